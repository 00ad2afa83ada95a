"""The deployed resources themselves: the table, its stream, the stream's export, the state
table, the function.

The guide's first validation step, and its troubleshooting entries "Streams not enabled" and
"Stream ARN not found".
"""

from __future__ import annotations

from reconciler.doctor.checks.result import (
    DEPLOY_STATEFUL,
    DEPLOY_STATELESS,
    CheckResult,
    Expectations,
    unreadable,
)
from reconciler.doctor.facts import Facts


def table_exists(facts: Facts, expected: Expectations) -> CheckResult:
    table = facts.table
    if table.error:
        return unreadable(
            "table-exists",
            f"could not describe table {table.name}: {table.error}",
            "dynamodb:DescribeTable",
        )
    if not table.exists:
        return CheckResult(
            "table-exists",
            "fail",
            f"table {table.name} not found in this account and region",
            f"{DEPLOY_STATEFUL}; or check --table-name / TABLE_NAME and AWS_REGION",
        )
    return CheckResult("table-exists", "pass", f"table {table.name} exists")


def stream_enabled(facts: Facts, expected: Expectations) -> CheckResult:
    table = facts.table
    fix = (
        "guide 'Streams not enabled': enable the stream with "
        f"{expected.stream_view_type} in StatefulStack and `cdk deploy StatefulStack` "
        "before StatelessStack"
    )
    if not table.exists or table.error:
        return CheckResult("stream-enabled", "fail", "no table to inspect", DEPLOY_STATEFUL)
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


def stream_export(facts: Facts, expected: Expectations) -> CheckResult:
    export = facts.export
    name = export.name
    if export.error:
        return unreadable(
            "stream-export",
            f"could not list CloudFormation exports: {export.error}",
            "cloudformation:ListExports",
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
            DEPLOY_STATEFUL,
        )
    return CheckResult("stream-export", "pass", f"export {name} equals the table's stream")


def state_table(facts: Facts, expected: Expectations) -> CheckResult:
    """The ledger's table: without it every batch fails; without TTL its tombstones pile up."""
    table = facts.state_table
    name = table.name
    if table.error:
        return unreadable(
            "state-table",
            f"could not describe state table {name}: {table.error}",
            "dynamodb:DescribeTable",
        )
    init = f"`reconciler init --table-name {expected.table_name} --state-table {name}`"
    if not table.exists:
        return CheckResult(
            "state-table",
            "fail",
            f"state table {name} ({table.named_by}) not found in this account and region",
            f"deploy StatefulStack (`cdk deploy StatefulStack`) or run {init}; "
            "or check --state-table / RECONCILER_STATE_TABLE",
        )
    if table.ttl_error:
        return unreadable(
            "state-table",
            f"could not read state table {name}'s TTL: {table.ttl_error}",
            "dynamodb:DescribeTimeToLive",
        )
    wanted = expected.ttl_attribute
    if table.ttl_attribute == wanted and table.ttl_status == "ENABLED":
        return CheckResult("state-table", "pass", f"state table {name} exists, TTL on {wanted}")
    if table.ttl_attribute == wanted and table.ttl_status == "ENABLING":
        return CheckResult(
            "state-table",
            "warn",
            f"state table {name}: TTL on {wanted} is still being enabled",
            "wait (it can take up to an hour) and run doctor again",
        )
    if table.ttl_status in ("ENABLED", "ENABLING"):
        detail = f"state table {name} has TTL on {table.ttl_attribute}, not {wanted}"
        first = f"disable TTL on {table.ttl_attribute} (a table has one TTL attribute), then "
    else:
        detail = f"state table {name} has no TTL (status {table.ttl_status or 'unknown'})"
        first = ""
    return CheckResult(
        "state-table",
        "fail",
        f"{detail}: the ledger's tombstones would never expire",
        f"{first}deploy StatefulStack (`cdk deploy StatefulStack`) or run {init}; by hand: "
        f"`aws dynamodb update-time-to-live --table-name {name} "
        f"--time-to-live-specification Enabled=true,AttributeName={wanted}`",
    )


def handler_exists(facts: Facts, expected: Expectations) -> CheckResult:
    function = facts.function
    if function.error:
        return unreadable(
            "handler-exists",
            f"could not read function {function.name}: {function.error}",
            "lambda:GetFunctionConfiguration",
        )
    if not function.exists:
        return CheckResult(
            "handler-exists",
            "fail",
            f"function {function.name} not found",
            f"{DEPLOY_STATELESS}; or check --function-name",
        )
    return CheckResult("handler-exists", "pass", f"function {function.name} exists")
