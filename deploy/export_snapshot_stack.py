"""The Spark engine's job on AWS Glue: the export's snapshot table computed beside the export.

Optional (``-c exportSnapshotJob=true``): only tables past what one machine counts need it. The
job script is the reconciler's own (``reconcile/export_spark_job.py``), uploaded as an asset.
Its role reads only the exports (``<prefix>/AWSDynamoDB/*`` of the bucket) and the script, and
writes only the snapshot directories beside them; it has no access to the table: an export
costs the table nothing, and neither does counting it. Each run is given its export
(``--export s3://<bucket>/<prefix>/AWSDynamoDB/<export-id>``), see docs/export.md.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import ArnFormat, CfnOutput, Fn, Stack
from aws_cdk import aws_glue as glue
from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from constructs import Construct

from deploy.export_mode import DEFAULT_EXPORT_PREFIX
from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.model import TableModel
from reconciler.reconcile import export_spark_job

EXPORT_SNAPSHOT_JOB_CONTEXT = "exportSnapshotJob"
GLUE_VERSION = "5.0"
WORKER_TYPE = "G.1X"
WORKERS = 2
"""A driver and one executor of 4 vCPU: tens of millions of items in minutes; raise per run
(``start-job-run --number-of-workers``) for more."""


class ExportSnapshotStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket: s3.IBucket | None = None,
        prefix: str = DEFAULT_EXPORT_PREFIX,
        model: TableModel | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if bucket is None:
            # By the StatefulStack's exported name, not a cross-stack reference: turning the job
            # off later must not leave StatefulStack unable to drop an export in use.
            bucket = s3.Bucket.from_bucket_name(
                self, "Bucket", Fn.import_value(spec.BUCKET_NAME_EXPORT)
            )
        prefix = prefix.strip("/")
        exports = f"{prefix}/AWSDynamoDB" if prefix else "AWSDynamoDB"
        script = s3_assets.Asset(self, "JobScript", path=str(Path(export_spark_job.__file__)))
        self.role = iam.Role(
            self,
            "JobRole",
            assumed_by=iam.ServicePrincipal("glue.amazonaws.com"),
            description="Reads DynamoDB exports, writes their reconciler snapshots",
        )
        script.grant_read(self.role)
        snapshots = f"{exports}/*/{export_spark_job.SNAPSHOT_DIRECTORY}/*"
        for statement in (
            iam.PolicyStatement(
                actions=["s3:GetObject"], resources=[bucket.arn_for_objects(f"{exports}/*")]
            ),
            iam.PolicyStatement(
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [exports, f"{exports}/*"]}},
            ),
            iam.PolicyStatement(
                actions=["s3:PutObject", "s3:DeleteObject"],
                resources=[bucket.arn_for_objects(snapshots)],
            ),
            iam.PolicyStatement(
                actions=["logs:CreateLogGroup", "logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[
                    self.format_arn(
                        service="logs",
                        resource="log-group",
                        resource_name="/aws-glue/*",
                        arn_format=ArnFormat.COLON_RESOURCE_NAME,
                    )
                ],
            ),
        ):
            self.role.add_to_policy(statement)
        self.job = glue.CfnJob(
            self,
            "Job",
            role=self.role.role_arn,
            description="reconciler --engine spark: a DynamoDB export's snapshot table",
            glue_version=GLUE_VERSION,
            worker_type=WORKER_TYPE,
            number_of_workers=WORKERS,
            max_retries=0,
            timeout=120,
            command=glue.CfnJob.JobCommandProperty(
                name="glueetl", python_version="3", script_location=script.s3_object_url
            ),
            default_arguments={
                "--job-language": "python",
                **export_spark_job.model_arguments(model or TableModel()),
            },
            execution_property=glue.CfnJob.ExecutionPropertyProperty(max_concurrent_runs=1),
        )
        CfnOutput(self, "JobName", value=self.job.ref)
        CfnOutput(self, "ExportPrefix", value=f"{exports}/", description="in the bucket")
