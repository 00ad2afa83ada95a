"""Collects the doctor's facts from AWS: read-only calls, each failure recorded, never raised.

A doctor that crashes on the first AccessDenied tells the operator nothing; so each group of
facts carries its own ``error`` (a bounded error code) and the checks report it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote

from botocore.exceptions import BotoCoreError, ClientError

from reconciler.doctor.facts import (
    AlarmFacts,
    ExportFacts,
    Facts,
    FunctionFacts,
    MappingFacts,
    QueueFacts,
    ReplayFacts,
    RoleFacts,
    Statement,
    StateTableFacts,
    TableFacts,
)
from reconciler.doctor.policy import statements_of
from reconciler.kernel import deployment_spec as deployed
from reconciler.kernel.deployment_spec import STATE_TABLE_NAME_EXPORT, TABLE_NAME_EXPORT
from reconciler.kernel.ledger import STATE_TABLE_SUFFIX, default_state_table

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_sqs import SQSClient

    from reconciler.kernel.aws import Clients

_NOT_FOUND = frozenset({"ResourceNotFoundException", "NoSuchEntity", "NoSuchEntityException"})
_QUEUE_NOT_FOUND = frozenset({"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"})
GIVEN_QUEUE_URL = "--on-failure-queue-url / RECONCILER_ON_FAILURE_QUEUE_URL"
_DESCRIBE_BATCH = 100


def _code(exc: Exception) -> str:
    if isinstance(exc, ClientError):
        return str(exc.response.get("Error", {}).get("Code", "Unknown"))
    return type(exc).__name__


def _not_found(exc: Exception) -> bool:
    return isinstance(exc, ClientError) and _code(exc) in _NOT_FOUND


class Gatherer:
    def __init__(
        self,
        *,
        dynamodb: DynamoDBClient,
        cloudformation: CloudFormationClient,
        lambda_client: LambdaClient,
        iam: IAMClient,
        logs: CloudWatchLogsClient,
        cloudwatch: CloudWatchClient,
        sqs: SQSClient,
    ) -> None:
        self._dynamodb = dynamodb
        self._cloudformation = cloudformation
        self._lambda = lambda_client
        self._iam = iam
        self._logs = logs
        self._cloudwatch = cloudwatch
        self._sqs = sqs

    @classmethod
    def from_clients(cls, clients: Clients) -> Gatherer:
        return cls(
            dynamodb=clients.dynamodb(),
            cloudformation=clients.cloudformation(),
            lambda_client=clients.lambda_(),
            iam=clients.iam(),
            logs=clients.logs(),
            cloudwatch=clients.cloudwatch(),
            sqs=clients.sqs(),
        )

    def gather(
        self,
        *,
        table_name: str,
        function_name: str,
        export_name: str,
        state_table_name: str | None = None,
        alarm_names: Sequence[str] | None = None,
        runbooks: Mapping[str, str] | None = None,
        replay_queue_url: str | None = None,
        reconciler_stack: str | None = deployed.RECONCILER_STACK_NAME,
    ) -> Facts:
        """``state_table_name``: the one the operator named; ``None`` finds the deployed one.
        ``replay_queue_url``: the queue the reconciler is given, when the operator says; the
        ``reconciler_stack``'s outputs say it otherwise (``None`` skips the replay chain)."""
        function = self.function(function_name)
        mappings, mappings_error = self.mappings(function_name) if function.exists else ((), None)
        role = self.role(function.role_arn) if function.role_arn else None
        log_group = f"/aws/lambda/{function_name}"
        exports, exports_error = self.exports()
        state_name, named_by = resolve_state_table(state_table_name, table_name, exports)
        return Facts(
            table=self.table(table_name),
            export=ExportFacts(
                name=export_name, value=exports.get(export_name), error=exports_error
            ),
            function=function,
            state_table=self.state_table(state_name, named_by),
            mappings=mappings,
            mappings_error=mappings_error,
            role=role,
            log_group=log_group,
            log_group_exists=self.log_group_exists(log_group),
            alarms=None
            if alarm_names is None
            else self.alarms(tuple(alarm_names), dict(runbooks or {})),
            on_failure_queues=tuple(
                self.queue(arn)
                for arn in sorted({m.on_failure_destination or "" for m in mappings})
                if ":sqs:" in arn
            ),
            replay=None
            if reconciler_stack is None
            else self.replay(reconciler_stack, replay_queue_url),
        )

    def table(self, name: str) -> TableFacts:
        try:
            table = self._dynamodb.describe_table(TableName=name)["Table"]
        except (ClientError, BotoCoreError) as exc:
            if _not_found(exc):
                return TableFacts(name=name, exists=False)
            return TableFacts(name=name, exists=False, error=_code(exc))
        stream = table.get("StreamSpecification", {})
        enabled = bool(stream.get("StreamEnabled"))
        return TableFacts(
            name=name,
            exists=True,
            stream_enabled=enabled,
            stream_view_type=stream.get("StreamViewType"),
            # LatestStreamArn outlives a disabled stream; only an enabled one is "current".
            stream_arn=table.get("LatestStreamArn") if enabled else None,
        )

    def state_table(self, name: str, named_by: str = "") -> StateTableFacts:
        try:
            table = self._dynamodb.describe_table(TableName=name)["Table"]
        except (ClientError, BotoCoreError) as exc:
            error = None if _not_found(exc) else _code(exc)
            return StateTableFacts(name=name, exists=False, named_by=named_by, error=error)
        found = StateTableFacts(
            name=name, exists=True, named_by=named_by, arn=table.get("TableArn")
        )
        try:
            ttl = self._dynamodb.describe_time_to_live(TableName=name)["TimeToLiveDescription"]
        except (ClientError, BotoCoreError) as exc:
            return replace(found, ttl_error=_code(exc))
        return replace(
            found, ttl_status=ttl.get("TimeToLiveStatus"), ttl_attribute=ttl.get("AttributeName")
        )

    def exports(self) -> tuple[dict[str, str], str | None]:
        """Every export of the account and region (one listing serves every export we need)."""
        found: dict[str, str] = {}
        try:
            for page in self._cloudformation.get_paginator("list_exports").paginate():
                for export in page.get("Exports", []):
                    if "Name" in export and "Value" in export:
                        found[export["Name"]] = export["Value"]
        except (ClientError, BotoCoreError) as exc:
            return {}, _code(exc)
        return found, None

    def function(self, name: str) -> FunctionFacts:
        try:
            config = self._lambda.get_function_configuration(FunctionName=name)
        except (ClientError, BotoCoreError) as exc:
            if _not_found(exc):
                return FunctionFacts(name=name, exists=False)
            return FunctionFacts(name=name, exists=False, error=_code(exc))
        return FunctionFacts(
            name=name,
            exists=True,
            role_arn=config.get("Role"),
            timeout_seconds=config.get("Timeout"),
            arn=config.get("FunctionArn"),
        )

    def mappings(self, function_name: str) -> tuple[tuple[MappingFacts, ...], str | None]:
        found: list[MappingFacts] = []
        try:
            pages = self._lambda.get_paginator("list_event_source_mappings").paginate(
                FunctionName=function_name
            )
            for page in pages:
                for m in page.get("EventSourceMappings", []):
                    destination = m.get("DestinationConfig", {}).get("OnFailure", {})
                    found.append(
                        MappingFacts(
                            uuid=m.get("UUID", ""),
                            event_source_arn=m.get("EventSourceArn", ""),
                            state=m.get("State", "Unknown"),
                            batch_size=m.get("BatchSize"),
                            batching_window_seconds=m.get("MaximumBatchingWindowInSeconds"),
                            maximum_retry_attempts=m.get("MaximumRetryAttempts"),
                            bisect_on_error=m.get("BisectBatchOnFunctionError"),
                            function_response_types=tuple(m.get("FunctionResponseTypes", [])),
                            maximum_record_age_seconds=m.get("MaximumRecordAgeInSeconds"),
                            on_failure_destination=destination.get("Destination"),
                        )
                    )
        except (ClientError, BotoCoreError) as exc:
            return (), _code(exc)
        return tuple(found), None

    def queue(self, arn: str) -> QueueFacts:
        """The queue an ARN names (``arn:aws:sqs:region:account:name``): its URL and key."""
        parts = arn.split(":")
        account, name = (parts[4], parts[5]) if len(parts) >= 6 else ("", arn)
        try:
            url = self._sqs.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)[
                "QueueUrl"
            ]
            attributes = self._sqs.get_queue_attributes(
                QueueUrl=url, AttributeNames=["KmsMasterKeyId"]
            ).get("Attributes", {})
        except (ClientError, BotoCoreError) as exc:
            missing = isinstance(exc, ClientError) and _code(exc) in _QUEUE_NOT_FOUND
            error = None if missing else _code(exc)
            return QueueFacts(arn=arn, name=name, exists=False, error=error)
        return QueueFacts(
            arn=arn, name=name, exists=True, url=url, kms_key=attributes.get("KmsMasterKeyId")
        )

    def replay(self, stack: str, given_url: str | None) -> ReplayFacts:
        """The queue the reconciler replays and its task role, from the operator's setting and
        the deployed stack's outputs (the values its container and role were given)."""
        named = ReplayFacts(
            stack=stack, queue_url=given_url, named_by=GIVEN_QUEUE_URL if given_url else ""
        )
        try:
            stacks = self._cloudformation.describe_stacks(StackName=stack)["Stacks"]
        except (ClientError, BotoCoreError) as exc:
            if isinstance(exc, ClientError) and "does not exist" in str(exc):
                return named
            return replace(named, error=_code(exc))
        outputs = {
            o["OutputKey"]: o["OutputValue"]
            for found in stacks
            for o in found.get("Outputs", [])
            if "OutputKey" in o and "OutputValue" in o
        }
        deployed_url = outputs.get(deployed.RECONCILER_QUEUE_URL_OUTPUT)
        if not given_url and deployed_url:
            named = replace(
                named,
                queue_url=deployed_url,
                named_by=f"stack {stack} output {deployed.RECONCILER_QUEUE_URL_OUTPUT}",
            )
        role_arn = outputs.get(deployed.RECONCILER_TASK_ROLE_OUTPUT)
        return replace(
            named, stack_found=bool(stacks), role=self.role(role_arn) if role_arn else None
        )

    def role(self, role_arn: str) -> RoleFacts:
        # arn:aws:iam::123456789012:role/optional/path/name -> name
        name = role_arn.rsplit("/", 1)[-1]
        statements: list[Statement] = []
        try:
            for page in self._iam.get_paginator("list_role_policies").paginate(RoleName=name):
                for policy_name in page.get("PolicyNames", []):
                    inline = self._iam.get_role_policy(RoleName=name, PolicyName=policy_name)
                    statements.extend(statements_of(_document(inline["PolicyDocument"])))
            attached = self._iam.get_paginator("list_attached_role_policies")
            for attached_page in attached.paginate(RoleName=name):
                for policy in attached_page.get("AttachedPolicies", []):
                    arn = policy["PolicyArn"]
                    version = self._iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
                    managed = self._iam.get_policy_version(PolicyArn=arn, VersionId=version)
                    statements.extend(
                        statements_of(_document(managed["PolicyVersion"]["Document"]))
                    )
        except (ClientError, BotoCoreError) as exc:
            return RoleFacts(name=name, error=_code(exc))
        return RoleFacts(name=name, statements=tuple(statements))

    def log_group_exists(self, name: str) -> bool | None:
        try:
            pages = self._logs.get_paginator("describe_log_groups").paginate(
                logGroupNamePrefix=name
            )
            return any(g.get("logGroupName") == name for p in pages for g in p.get("logGroups", []))
        except (ClientError, BotoCoreError):
            return None

    def alarms(self, names: tuple[str, ...], runbooks: dict[str, str]) -> AlarmFacts:
        states: dict[str, str] = {}
        silent: list[str] = []
        try:
            for start in range(0, len(names), _DESCRIBE_BATCH):
                batch = list(names[start : start + _DESCRIBE_BATCH])
                pages = self._cloudwatch.get_paginator("describe_alarms").paginate(
                    AlarmNames=batch, AlarmTypes=["MetricAlarm"]
                )
                for page in pages:
                    for alarm in page.get("MetricAlarms", []):
                        states[alarm["AlarmName"]] = alarm.get("StateValue", "INSUFFICIENT_DATA")
                        if not alarm.get("ActionsEnabled", True) or not alarm.get("AlarmActions"):
                            silent.append(alarm["AlarmName"])
        except (ClientError, BotoCoreError) as exc:
            return AlarmFacts(expected=names, runbooks=runbooks, error=_code(exc))
        return AlarmFacts(
            expected=names, states=states, runbooks=runbooks, silent=tuple(sorted(silent))
        )


def resolve_state_table(
    given: str | None, table_name: str, exports: Mapping[str, str]
) -> tuple[str, str]:
    """The state table to check, and what named it.

    The one the operator gave; else the deployed one, when the ``TableName`` export shows that
    the table being checked is the deployed one (a generated name has no ``-state`` sibling);
    else ``<table>-state``, the default every command uses.
    """
    if given:
        return given, "--state-table / RECONCILER_STATE_TABLE"
    deployed = exports.get(STATE_TABLE_NAME_EXPORT)
    if deployed and exports.get(TABLE_NAME_EXPORT) == table_name:
        return deployed, f"export {STATE_TABLE_NAME_EXPORT}"
    return default_state_table(table_name), f"the default, <table>{STATE_TABLE_SUFFIX}"


def _document(raw: object) -> Mapping[str, Any]:
    """boto3 usually decodes policy documents; some paths hand back URL-encoded JSON text."""
    if isinstance(raw, Mapping):
        return raw
    text = unquote(str(raw))
    try:
        parsed = json.loads(text)
    except json.JSONDecodeError:
        return {}
    return parsed if isinstance(parsed, dict) else {}
