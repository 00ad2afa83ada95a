"""The stream handler and its wiring: function, event source mapping, on-failure queue, IAM.

It finds the tables only through the StatefulStack's exports (``Fn.importValue``), as the
deployment guide prescribes, so it can be destroyed and redeployed without touching data; or,
when the app adopts an existing table, by the names and stream ARN the operator gave.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import (
    AssetHashType,
    BundlingOptions,
    CfnOutput,
    Duration,
    RemovalPolicy,
    Stack,
)
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from deploy.bundling import local_bundling
from deploy.tables import ExistingTable, TableRefs, table_refs
from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.model import TableModel

REPO_ROOT = Path(__file__).resolve().parent.parent
HANDLER_PACKAGE_DIR = REPO_ROOT / "reconciler"
HANDLER_RUNTIME = lambda_.Runtime.PYTHON_3_12
ON_FAILURE_QUEUE_NAME = spec.ON_FAILURE_QUEUE_NAME
ON_FAILURE_RETENTION = Duration.days(14)
"""The longest SQS allows: time for an operator to read what was dropped and why."""
LOG_RETENTION = logs.RetentionDays.ONE_MONTH


class StatelessStack(Stack):
    """``updateAttendeeCounter`` on the imported stream, with exactly the permissions it uses.

    ``handler_function_name``, ``handler_timeout_seconds`` and ``on_failure_queue_name`` are
    plain strings and numbers (physical names are fixed), so the MonitoringStack can take them
    without creating hidden cross-stack exports that would pin this stack.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler_package_dir: Path = HANDLER_PACKAGE_DIR,
        metrics_namespace: str = spec.HANDLER_METRICS_NAMESPACE,
        existing: ExistingTable | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.handler_function_name = spec.HANDLER_FUNCTION_NAME
        self.handler_timeout_seconds = spec.HANDLER_TIMEOUT_SECONDS
        self.on_failure_queue_name = ON_FAILURE_QUEUE_NAME

        tables = table_refs(self, existing)

        self.on_failure_queue = sqs.Queue(
            self,
            "OnFailureQueue",
            queue_name=ON_FAILURE_QUEUE_NAME,
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=ON_FAILURE_RETENTION,
            # Its messages point at stream positions that expire after 24 h, and the reconciler
            # repairs the counts regardless; a retained queue would block a clean redeploy.
            removal_policy=RemovalPolicy.DESTROY,
        )

        self.log_group = logs.LogGroup(
            self,
            "HandlerLogGroup",
            log_group_name=f"/aws/lambda/{spec.HANDLER_FUNCTION_NAME}",
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )

        # An explicit role without AWSLambdaBasicExecutionRole: that managed policy grants
        # logs:CreateLogGroup on every log group, and the group already exists above.
        self.role = iam.Role(
            self,
            "HandlerRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"{spec.HANDLER_FUNCTION_NAME}: stream read, ledger, counter updates, logs",
        )
        self.policy = iam.Policy(
            self,
            "HandlerPolicy",
            roles=[self.role],
            statements=self._statements(tables),
        )

        self.function = lambda_.Function(
            self,
            "UpdateAttendeeCounter",
            function_name=spec.HANDLER_FUNCTION_NAME,
            description="Applies +1/-1 per attendee INSERT/REMOVE to the event's attendeeCount",
            runtime=HANDLER_RUNTIME,
            handler=spec.HANDLER_ENTRY_POINT,
            code=lambda_.Code.from_asset(
                str(handler_package_dir),
                asset_hash_type=AssetHashType.OUTPUT,
                bundling=BundlingOptions(
                    image=HANDLER_RUNTIME.bundling_image,
                    local=local_bundling(
                        handler_package_dir,
                        python_version=HANDLER_RUNTIME.name.removeprefix("python"),
                    ),
                ),
            ),
            memory_size=spec.HANDLER_MEMORY_MB,
            timeout=Duration.seconds(spec.HANDLER_TIMEOUT_SECONDS),
            environment={
                "TABLE_NAME": tables.table_name,
                "RECONCILER_STATE_TABLE": tables.state_table_name,
                "RECONCILER_METRICS_NAMESPACE": metrics_namespace,
            },
            role=self.role,
            log_group=self.log_group,
        )
        # Lambda checks the role's stream permissions when the mapping is created.
        self.function.node.add_dependency(self.policy)

        self.event_source_mapping = lambda_.CfnEventSourceMapping(
            self,
            "StreamMapping",
            function_name=self.function.function_name,
            event_source_arn=tables.stream_arn,
            starting_position=spec.STARTING_POSITION,
            batch_size=spec.BATCH_SIZE,
            maximum_batching_window_in_seconds=spec.BATCHING_WINDOW_SECONDS,
            maximum_retry_attempts=spec.MAX_RETRY_ATTEMPTS,
            bisect_batch_on_function_error=spec.BISECT_BATCH_ON_ERROR,
            maximum_record_age_in_seconds=spec.MAX_RECORD_AGE_SECONDS,
            function_response_types=list(spec.FUNCTION_RESPONSE_TYPES),
            destination_config=lambda_.CfnEventSourceMapping.DestinationConfigProperty(
                on_failure=lambda_.CfnEventSourceMapping.OnFailureProperty(
                    destination=self.on_failure_queue.queue_arn
                )
            ),
            enabled=True,
        )
        self.event_source_mapping.node.add_dependency(self.policy)

        CfnOutput(self, "HandlerFunctionName", value=self.function.function_name)
        CfnOutput(self, "OnFailureQueueUrl", value=self.on_failure_queue.queue_url)
        CfnOutput(self, "EventSourceMappingId", value=self.event_source_mapping.ref)

    def _statements(self, tables: TableRefs) -> list[iam.PolicyStatement]:
        stream_actions = [a for a in spec.STREAM_READ_ACTIONS if a != "dynamodb:ListStreams"]
        return [
            iam.PolicyStatement(
                sid="ReadTableStream",
                actions=stream_actions,
                resources=[tables.stream_arn],
            ),
            # ListStreams has no resource-level permissions in IAM: scoped to the stream ARN
            # it would never match. It reveals stream ARNs only, never data.
            iam.PolicyStatement(
                sid="ListTableStreams",
                actions=["dynamodb:ListStreams"],
                resources=["*"],
            ),
            # The handler only finds, reads and updates event items; it never needs to read the
            # attendee items (personal data) from the table, so it may not. Its BatchGetItem
            # also reads ledger entries: IAM authorises each table's part on its own.
            iam.PolicyStatement(
                sid="UpdateEventCounters",
                actions=list(spec.HANDLER_TABLE_ACTIONS),
                resources=[tables.table_arn],
                conditions={
                    "ForAllValues:StringEquals": {
                        "dynamodb:LeadingKeys": list(TableModel().event_partitions)
                    }
                },
            ),
            # The ledger: read entries, write them in the per-event transaction (IAM authorises
            # TransactWriteItems per item: Put, and ConditionCheck for entries it only guards).
            iam.PolicyStatement(
                sid="KeepLedger",
                actions=list(spec.HANDLER_STATE_TABLE_ACTIONS),
                resources=[tables.state_table_arn],
            ),
            iam.PolicyStatement(
                sid="ReportDroppedBatches",
                actions=["sqs:SendMessage"],
                resources=[self.on_failure_queue.queue_arn],
            ),
            iam.PolicyStatement(
                sid="WriteOwnLogs",
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[self.log_group.log_group_arn],
            ),
        ]
