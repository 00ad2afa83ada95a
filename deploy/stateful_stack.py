"""The long-lived resources: the registrations table with its stream, the state table that
holds the counter's ledger, and the bucket.

Deployed first and rarely: everything else imports the tables through the exports below, so
this stack never has to know who reads the stream or keeps the ledger. When the app adopts an
existing table (``deploy.tables``), this stack defines no table: it keeps the bucket and exports
the adopted names, so ``reconciler doctor`` and scripts read the same exports in both modes.
"""

from __future__ import annotations

from typing import Any

from aws_cdk import CfnOutput, RemovalPolicy, Stack
from aws_cdk import aws_dynamodb as dynamodb
from aws_cdk import aws_s3 as s3
from constructs import Construct

from deploy.tables import ExistingTable
from reconciler.kernel.deployment_spec import (
    BUCKET_NAME_EXPORT,
    STATE_TABLE_NAME_EXPORT,
    TABLE_NAME_EXPORT,
    TABLE_STREAM_ARN_EXPORT,
)
from reconciler.kernel.ledger import LedgerModel, default_state_table
from reconciler.kernel.model import TableModel


class StatefulStack(Stack):
    """Table (pk/sk, on-demand, NEW_AND_OLD_IMAGES stream, PITR), state table (pk/sk,
    on-demand, TTL, PITR, no stream) and an encrypted bucket.

    All three are retained when the stack is deleted: losing registrations or the ledger that
    keeps their count exact to a rollback is worse than an orphaned resource an operator can
    delete on purpose. With ``existing`` only the bucket: the tables are the operator's.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        table_name: str | None = None,
        model: TableModel | None = None,
        ledger: LedgerModel | None = None,
        existing: ExistingTable | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.table: dynamodb.Table | None = None
        self.state_table: dynamodb.Table | None = None
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
        CfnOutput(
            self,
            "BucketName",
            value=self.bucket.bucket_name,
            export_name=BUCKET_NAME_EXPORT,
            description="The bucket; imported by the reconciler's export mode",
        )
        if existing is not None:
            self._export(existing.name, existing.stream_arn, existing.state_table_name)
            return
        self.table, self.state_table = self._tables(table_name, model, ledger)
        stream_arn = self.table.table_stream_arn
        if stream_arn is None:  # pragma: no cover - the stream is configured in _tables
            raise RuntimeError("the table was created without a stream")
        self._export(self.table.table_name, stream_arn, self.state_table.table_name)

    def _tables(
        self, table_name: str | None, model: TableModel | None, ledger: LedgerModel | None
    ) -> tuple[dynamodb.Table, dynamodb.Table]:
        model = model or TableModel()
        ledger = ledger or LedgerModel()
        table = dynamodb.Table(
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

        # No stream: the handler's ledger writes must never reach a stream (the registration
        # table's would invoke the handler for its own bookkeeping). TTL expires tombstones.
        state_table = dynamodb.Table(
            self,
            "StateTable",
            # Named after the registration table when that is named, as the CLI's default
            # (--state-table) expects; generated otherwise, like the registration table's.
            table_name=default_state_table(table_name) if table_name else None,
            partition_key=dynamodb.Attribute(
                name=ledger.pk_attr, type=dynamodb.AttributeType.STRING
            ),
            sort_key=dynamodb.Attribute(name=ledger.sk_attr, type=dynamodb.AttributeType.STRING),
            billing_mode=dynamodb.BillingMode.PAY_PER_REQUEST,
            time_to_live_attribute=ledger.expires_attr,
            point_in_time_recovery_specification=dynamodb.PointInTimeRecoverySpecification(
                point_in_time_recovery_enabled=True
            ),
            # Item hashes of e-mail addresses are pseudonymous data: protected like the
            # registrations themselves.
            encryption=dynamodb.TableEncryption.AWS_MANAGED,
            removal_policy=RemovalPolicy.RETAIN,
        )

        return table, state_table

    def _export(self, table_name: str, stream_arn: str, state_table_name: str) -> None:
        CfnOutput(
            self,
            "TableNameOutput",
            value=table_name,
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
        CfnOutput(
            self,
            "StateTableNameOutput",
            value=state_table_name,
            export_name=STATE_TABLE_NAME_EXPORT,
            description="State table (the counter's ledger); imported by the stateless and "
            "reconciler stacks",
        )
