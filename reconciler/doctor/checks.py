"""Pure evaluation of gathered facts: one :class:`CheckResult` per check, with the fix.

The checks follow the deployment guide: its three validation steps, and its troubleshooting
entries ("Streams not enabled", "Stream ARN not found", "Permission denied", "Stream handler
not triggering"), each named in the fix so an operator can find the guide's section.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from reconciler.doctor.facts import Facts, MappingFacts
from reconciler.doctor.policy import decide
from reconciler.kernel import deployment_spec as deployed

Status = Literal["pass", "warn", "fail"]

ACTIVE_TRANSITIONS = frozenset({"Creating", "Enabling", "Updating"})


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


@dataclass(frozen=True, slots=True)
class Expectations:
    """What a correct deployment looks like; defaults are ``reconciler.kernel.deployment_spec``."""

    table_name: str
    function_name: str = deployed.HANDLER_FUNCTION_NAME
    export_name: str = deployed.TABLE_STREAM_ARN_EXPORT
    on_failure_queue: str | None = None
    """When set, the mapping's on-failure destination must be this queue."""
    batch_size: int = deployed.BATCH_SIZE
    batching_window_seconds: int = deployed.BATCHING_WINDOW_SECONDS
    maximum_retry_attempts: int = deployed.MAX_RETRY_ATTEMPTS
    bisect_on_error: bool = deployed.BISECT_BATCH_ON_ERROR
    function_response_types: tuple[str, ...] = deployed.FUNCTION_RESPONSE_TYPES
    maximum_record_age_seconds: int = deployed.MAX_RECORD_AGE_SECONDS
    stream_view_type: str = deployed.STREAM_VIEW_TYPE
    stream_actions: tuple[str, ...] = deployed.STREAM_READ_ACTIONS


def failed(results: list[CheckResult]) -> bool:
    return any(r.status == "fail" for r in results)


def evaluate(facts: Facts, expected: Expectations) -> list[CheckResult]:
    mapping = _stream_mapping(facts, expected)
    results = [
        _table_exists(facts, expected),
        _stream_enabled(facts, expected),
        _stream_export(facts, expected),
        _handler_exists(facts, expected),
        _mapping_exists(facts, expected, mapping),
        _mapping_enabled(facts, expected, mapping),
        _mapping_stream(facts, expected, mapping),
        _mapping_settings(facts, expected, mapping),
        _role_permissions(facts, expected),
        _log_group(facts, expected),
    ]
    if facts.alarms is not None:
        results.extend(_alarms(facts))
    return results


_DEPLOY_STATEFUL = "deploy StatefulStack first: `cdk deploy StatefulStack`"
_DEPLOY_STATELESS = "deploy the handler: `cdk deploy StatelessStack` (after StatefulStack)"


def _table_exists(facts: Facts, expected: Expectations) -> CheckResult:
    table = facts.table
    if table.error:
        return CheckResult(
            "table-exists",
            "fail",
            f"could not describe table {table.name}: {table.error}",
            "allow dynamodb:DescribeTable to the credentials running doctor",
        )
    if not table.exists:
        return CheckResult(
            "table-exists",
            "fail",
            f"table {table.name} not found in this account and region",
            f"{_DEPLOY_STATEFUL}; or check --table-name / TABLE_NAME and AWS_REGION",
        )
    return CheckResult("table-exists", "pass", f"table {table.name} exists")


def _stream_enabled(facts: Facts, expected: Expectations) -> CheckResult:
    table = facts.table
    fix = (
        "guide 'Streams not enabled': enable the stream with "
        f"{expected.stream_view_type} in StatefulStack and `cdk deploy StatefulStack` "
        "before StatelessStack"
    )
    if not table.exists or table.error:
        return CheckResult("stream-enabled", "fail", "no table to inspect", _DEPLOY_STATEFUL)
    if not table.stream_enabled or not table.stream_arn:
        return CheckResult("stream-enabled", "fail", f"table {table.name} has no stream", fix)
    if table.stream_view_type != expected.stream_view_type:
        return CheckResult(
            "stream-enabled",
            "fail",
            f"stream view type is {table.stream_view_type}, the handler needs "
            f"{expected.stream_view_type} (REMOVE records must carry the old image)",
            fix,
        )
    return CheckResult("stream-enabled", "pass", f"stream enabled with {expected.stream_view_type}")


def _stream_export(facts: Facts, expected: Expectations) -> CheckResult:
    export = facts.export
    name = export.name
    if export.error:
        return CheckResult(
            "stream-export",
            "fail",
            f"could not list CloudFormation exports: {export.error}",
            "allow cloudformation:ListExports to the credentials running doctor",
        )
    if export.value is None:
        return CheckResult(
            "stream-export",
            "fail",
            f"no CloudFormation export named {name}",
            "guide 'Stream ARN not found': verify StatefulStack deployed successfully "
            "(`aws cloudformation list-exports`), then `cdk deploy StatefulStack`",
        )
    current = facts.table.stream_arn
    if current and export.value != current:
        return CheckResult(
            "stream-export",
            "fail",
            f"export {name} is {export.value}, but the table's current stream is {current}",
            "guide 'Stream ARN not found': the stream was re-created; redeploy "
            "StatefulStack so the export follows it, then StatelessStack",
        )
    if not current:
        return CheckResult(
            "stream-export",
            "fail",
            f"export {name} exists but the table has no current stream to compare with",
            _DEPLOY_STATEFUL,
        )
    return CheckResult("stream-export", "pass", f"export {name} equals the table's stream")


def _handler_exists(facts: Facts, expected: Expectations) -> CheckResult:
    function = facts.function
    if function.error:
        return CheckResult(
            "handler-exists",
            "fail",
            f"could not read function {function.name}: {function.error}",
            "allow lambda:GetFunctionConfiguration to the credentials running doctor",
        )
    if not function.exists:
        return CheckResult(
            "handler-exists",
            "fail",
            f"function {function.name} not found",
            f"{_DEPLOY_STATELESS}; or check --function-name",
        )
    return CheckResult("handler-exists", "pass", f"function {function.name} exists")


def _stream_mapping(facts: Facts, expected: Expectations) -> MappingFacts | None:
    """The mapping on this table's stream, preferring one on the current stream."""
    marker = f":table/{expected.table_name}/stream/"
    candidates = [m for m in facts.mappings if marker in m.event_source_arn]
    current = facts.table.stream_arn
    for mapping in candidates:
        if mapping.event_source_arn == current:
            return mapping
    return candidates[0] if candidates else None


_NOT_TRIGGERING = "guide 'Stream handler not triggering'"


def _mapping_exists(
    facts: Facts, expected: Expectations, mapping: MappingFacts | None
) -> CheckResult:
    if facts.mappings_error:
        return CheckResult(
            "mapping-exists",
            "fail",
            f"could not list event source mappings: {facts.mappings_error}",
            "allow lambda:ListEventSourceMappings to the credentials running doctor",
        )
    if mapping is None:
        others = len(facts.mappings)
        detail = f"no event source mapping from table {expected.table_name}'s stream to "
        detail += f"{expected.function_name}"
        if others:
            detail += f" ({others} mapping(s) on other sources)"
        return CheckResult(
            "mapping-exists",
            "fail",
            detail,
            f"{_NOT_TRIGGERING}: {_DEPLOY_STATELESS}; it creates the mapping from "
            f"Fn.importValue({expected.export_name})",
        )
    return CheckResult("mapping-exists", "pass", f"mapping {mapping.uuid} on the table's stream")


def _mapping_enabled(
    facts: Facts, expected: Expectations, mapping: MappingFacts | None
) -> CheckResult:
    if mapping is None:
        return CheckResult("mapping-enabled", "fail", "no mapping to inspect", _DEPLOY_STATELESS)
    if mapping.state == "Enabled":
        return CheckResult("mapping-enabled", "pass", "mapping state is Enabled")
    if mapping.state in ACTIVE_TRANSITIONS:
        return CheckResult(
            "mapping-enabled",
            "warn",
            f"mapping state is {mapping.state}",
            "wait a minute and run doctor again",
        )
    return CheckResult(
        "mapping-enabled",
        "fail",
        f"mapping {mapping.uuid} state is {mapping.state}",
        f"{_NOT_TRIGGERING}: `aws lambda update-event-source-mapping --uuid {mapping.uuid} "
        "--enabled`, then check the handler's logs for errors",
    )


def _mapping_stream(
    facts: Facts, expected: Expectations, mapping: MappingFacts | None
) -> CheckResult:
    if mapping is None:
        return CheckResult("mapping-stream", "fail", "no mapping to inspect", _DEPLOY_STATELESS)
    current = facts.table.stream_arn
    if not current:
        return CheckResult(
            "mapping-stream", "fail", "the table has no current stream", _DEPLOY_STATEFUL
        )
    if mapping.event_source_arn != current:
        return CheckResult(
            "mapping-stream",
            "fail",
            f"mapping reads {mapping.event_source_arn}, the table's stream is {current}",
            f"{_NOT_TRIGGERING}: verify the stream ARN; redeploy StatefulStack then "
            "StatelessStack so the mapping follows the current stream",
        )
    return CheckResult("mapping-stream", "pass", "mapping reads the table's current stream")


def _mapping_settings(
    facts: Facts, expected: Expectations, mapping: MappingFacts | None
) -> CheckResult:
    if mapping is None:
        return CheckResult("mapping-settings", "fail", "no mapping to inspect", _DEPLOY_STATELESS)
    wrong: list[str] = []

    def compare(label: str, actual: object, wanted: object) -> None:
        if actual != wanted:
            wrong.append(f"{label} {actual} (want {wanted})")

    compare("batch size", mapping.batch_size, expected.batch_size)
    compare("batching window", mapping.batching_window_seconds, expected.batching_window_seconds)
    compare("retries", mapping.maximum_retry_attempts, expected.maximum_retry_attempts)
    compare("bisect on error", mapping.bisect_on_error, expected.bisect_on_error)
    compare(
        "response types",
        sorted(mapping.function_response_types),
        sorted(expected.function_response_types),
    )
    compare(
        "maximum record age",
        mapping.maximum_record_age_seconds,
        expected.maximum_record_age_seconds,
    )
    destination = mapping.on_failure_destination
    if not destination:
        wrong.append("no on-failure destination (dropped batches would vanish)")
    elif expected.on_failure_queue and destination.rsplit(":", 1)[-1] != expected.on_failure_queue:
        wrong.append(
            f"on-failure destination {destination} (want queue {expected.on_failure_queue})"
        )
    if wrong:
        return CheckResult(
            "mapping-settings",
            "fail",
            "; ".join(wrong),
            "redeploy StatelessStack; its settings come from reconciler/deployment_spec.py",
        )
    return CheckResult(
        "mapping-settings",
        "pass",
        f"batch {expected.batch_size}, window {expected.batching_window_seconds} s, "
        f"{expected.maximum_retry_attempts} retries, partial failures, on-failure destination",
    )


def _role_permissions(facts: Facts, expected: Expectations) -> CheckResult:
    fix = (
        "guide 'Permission denied': grant "
        + ", ".join(a for a in expected.stream_actions if a != "dynamodb:ListStreams")
        + " on the stream ARN and dynamodb:ListStreams on * to the handler's role "
        "(StatelessStack does this)"
    )
    role = facts.role
    if role is None:
        return CheckResult(
            "handler-role-permissions", "fail", "no handler function, so no role to inspect", fix
        )
    if role.error:
        return CheckResult(
            "handler-role-permissions",
            "fail",
            f"could not read role {role.name}'s policies: {role.error}",
            "allow iam:GetRole, iam:List*RolePolicies, iam:GetRolePolicy, iam:GetPolicy and "
            "iam:GetPolicyVersion to the credentials running doctor",
        )
    stream = facts.table.stream_arn or (
        f"arn:aws:dynamodb:*:*:table/{expected.table_name}/stream/*"
    )
    missing: list[str] = []
    conditional: list[str] = []
    for action in expected.stream_actions:
        # ListStreams has no resource-level permissions: only a grant on "*" works.
        resource = "*" if action == "dynamodb:ListStreams" else stream
        allowed, relies_on_condition = decide(role.statements, action, resource)
        if not allowed:
            missing.append(action)
        elif relies_on_condition:
            conditional.append(action)
    if missing:
        return CheckResult(
            "handler-role-permissions",
            "fail",
            f"role {role.name} lacks {', '.join(missing)}",
            fix,
        )
    if conditional:
        return CheckResult(
            "handler-role-permissions",
            "warn",
            f"role {role.name} grants {', '.join(conditional)} only under conditions doctor "
            "cannot evaluate",
            "check the conditions hold for Lambda's stream polling",
        )
    return CheckResult(
        "handler-role-permissions",
        "pass",
        f"role {role.name} grants the {len(expected.stream_actions)} stream read permissions",
    )


def _log_group(facts: Facts, expected: Expectations) -> CheckResult:
    if facts.log_group_exists is None:
        return CheckResult(
            "handler-log-group",
            "warn",
            f"could not look up {facts.log_group}",
            "allow logs:DescribeLogGroups to the credentials running doctor",
        )
    if not facts.log_group_exists:
        if _role_cannot_create_log_group(facts):
            # StatelessStack creates the group and grants only stream/event writes into it, so
            # Lambda cannot re-create a deleted group: every log line is lost until a redeploy.
            return CheckResult(
                "handler-log-group",
                "fail",
                f"log group {facts.log_group} does not exist and the handler's role may not "
                "create it, so the handler's logs are lost",
                "redeploy StatelessStack (it creates the log group), or grant "
                "logs:CreateLogGroup on it to the handler's role",
            )
        # Lambda creates the group on the first invocation that logs; an idle new deployment
        # has none, so this alone is not a failure.
        return CheckResult(
            "handler-log-group",
            "warn",
            f"log group {facts.log_group} does not exist yet",
            "it appears after the first invocation; if attendees were registered since the "
            "deploy, the handler is not being invoked or its role cannot write logs",
        )
    return CheckResult("handler-log-group", "pass", f"log group {facts.log_group} exists")


def _role_cannot_create_log_group(facts: Facts) -> bool:
    """True only when we know it: the role was read and denies or lacks CreateLogGroup on the
    group (as an ARN with and without the ``:*`` suffix policies commonly use)."""
    role, arn = facts.role, facts.function.arn
    if role is None or role.error or not arn or not facts.log_group:
        return False
    parts = arn.split(":")
    if len(parts) < 5:
        return False
    partition, region, account = parts[1], parts[3], parts[4]
    group = f"arn:{partition}:logs:{region}:{account}:log-group:{facts.log_group}"
    return not any(
        decide(role.statements, "logs:CreateLogGroup", resource)[0]
        for resource in (group, f"{group}:*")
    )


def _alarms(facts: Facts) -> list[CheckResult]:
    alarms = facts.alarms
    assert alarms is not None
    if alarms.error:
        return [
            CheckResult(
                "alarms-exist",
                "fail",
                f"could not describe alarms: {alarms.error}",
                "allow cloudwatch:DescribeAlarms to the credentials running doctor",
            )
        ]
    missing = [name for name in alarms.expected if name not in alarms.states]
    firing = [name for name in alarms.expected if alarms.states.get(name) == "ALARM"]
    results: list[CheckResult] = []
    if missing:
        results.append(
            CheckResult(
                "alarms-exist",
                "fail",
                f"{len(missing)} of {len(alarms.expected)} alarms missing: {', '.join(missing)}",
                "run `reconciler alarms apply` with the same --prefix/--config, "
                "or `cdk deploy MonitoringStack`",
            )
        )
    elif alarms.silent:
        # An alarm that can change state but pages nobody is as good as a missing one.
        results.append(
            CheckResult(
                "alarms-exist",
                "fail",
                f"{len(alarms.silent)} alarm(s) notify nobody (actions disabled or no alarm "
                f"action): {', '.join(alarms.silent)}",
                "run `reconciler alarms apply` with the same --prefix/--config (it restores "
                "the SNS actions), or `aws cloudwatch enable-alarm-actions`",
            )
        )
    else:
        results.append(
            CheckResult("alarms-exist", "pass", f"all {len(alarms.expected)} alarms exist")
        )
    if firing:
        runbooks = ", ".join(alarms.runbooks.get(n, f"{n} (see its description)") for n in firing)
        results.append(
            CheckResult(
                "alarms-not-in-alarm",
                "fail",
                f"in ALARM: {', '.join(firing)}",
                f"follow the runbook: {runbooks}",
            )
        )
    else:
        waiting = sum(1 for n in alarms.expected if alarms.states.get(n) == "INSUFFICIENT_DATA")
        note = f" ({waiting} still waiting for data)" if waiting else ""
        results.append(CheckResult("alarms-not-in-alarm", "pass", f"no alarm is in ALARM{note}"))
    return results
