"""The long-lived resources: the registrations table with its stream, and the bucket.

Deployed first and rarely: everything else imports the table through the two exports below,
so this stack never has to know who reads the stream.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from reconciler.kernel.deployment_spec import TABLE_NAME_EXPORT, TABLE_STREAM_ARN_EXPORT
from reconciler.kernel.model import TableModel


class StatefulStack(Stack):
    """Table (pk/sk, on-demand, NEW_AND_OLD_IMAGES stream, PITR) and an encrypted bucket.

    Both are retained when the stack is deleted: losing registrations to a rollback is worse
    than an orphaned resource an operator can delete on purpose.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table_name: str | None = None,
        model: TableModel | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        model = model or TableModel()

        self.table = dynamodb.Table(
            self,
            "Table",
            table_name=table_name,
            partition_key=dynamodb.Attribute(
                name=model.pk_attr, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=model.sk_attr, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            stream=dynamodb.StreamViewType.NEW_AND_OLD_IMAGES,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
        )

        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=RemovalPolicy.RETAIN,
        )

        stream_arn = self.table.table_stream_arn
        if stream_arn is None:  # pragma: no cover - the stream is configured just above
            raise RuntimeError("the table was created without a stream")

        CfnOutput(
            self,
            "TableNameOutput",
            value=self.table.table_name,
            export_name=TABLE_NAME_EXPORT,
            description="Registrations table; imported by the stateless and reconciler stacks",
        )
        CfnOutput(
            self,
            "TableStreamArnOutput",
            value=stream_arn,
            export_name=TABLE_STREAM_ARN_EXPORT,
            description="Stream of the registrations table; the handler's event source",
        )
        CfnOutput(self, "BucketName", value=self.bucket.bucket_name)
