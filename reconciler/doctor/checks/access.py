"""What the handler's role lets it do: read the stream (the guide's "Permission denied"), keep
the ledger in the state table, and keep its log group."""

from __future__ import annotations

from reconciler.doctor.checks.result import CheckResult, Expectations, unreadable
from reconciler.doctor.facts import Facts, Statement
from reconciler.doctor.policy import decide


def handler_role_permissions(facts: Facts, expected: Expectations) -> CheckResult:
    stream_fix = (
        "guide 'Permission denied': grant "
        + ", ".join(a for a in expected.stream_actions if a != "dynamodb:ListStreams")
        + " on the stream ARN and dynamodb:ListStreams on * to the handler's role "
        "(StatelessStack does this)"
    )
    role = facts.role
    if role is None:
        return CheckResult(
            "handler-role-permissions",
            "fail",
            "no handler function, so no role to inspect",
            stream_fix,
        )
    if role.error:
        return unreadable(
            "handler-role-permissions",
            f"could not read role {role.name}'s policies: {role.error}",
            "iam:GetRole, iam:List*RolePolicies, iam:GetRolePolicy, iam:GetPolicy and "
            "iam:GetPolicyVersion",
        )
    stream = facts.table.stream_arn or (
        f"arn:aws:dynamodb:*:*:table/{expected.table_name}/stream/*"
    )
    # ListStreams has no resource-level permissions: only a grant on "*" works.
    stream_missing, stream_conditional = evaluate_grants(
        role.statements,
        {a: "*" if a == "dynamodb:ListStreams" else stream for a in expected.stream_actions},
    )
    state_table = facts.state_table.name
    state_arn = _state_table_arn(facts)
    state_missing, state_conditional = evaluate_grants(
        role.statements, dict.fromkeys(expected.state_table_actions, state_arn)
    )
    on_state = f"on state table {state_table}"
    state_fix = (
        f"grant {', '.join(expected.state_table_actions)} on {state_arn} to the handler's role "
        "(StatelessStack does this)"
    )
    if stream_missing or state_missing:
        lacks = [", ".join(stream_missing)] if stream_missing else []
        lacks += [f"{', '.join(state_missing)} {on_state}"] if state_missing else []
        fixes = [stream_fix] if stream_missing else []
        fixes += [state_fix] if state_missing else []
        return CheckResult(
            "handler-role-permissions",
            "fail",
            f"role {role.name} lacks {'; '.join(lacks)}",
            "; ".join(fixes),
        )
    if stream_conditional or state_conditional:
        grants = [", ".join(stream_conditional)] if stream_conditional else []
        grants += [f"{', '.join(state_conditional)} {on_state}"] if state_conditional else []
        uses = ["Lambda's stream polling"] if stream_conditional else []
        uses += ["the handler's ledger reads and writes"] if state_conditional else []
        return CheckResult(
            "handler-role-permissions",
            "warn",
            f"role {role.name} grants {'; '.join(grants)} only under conditions doctor "
            "cannot evaluate",
            f"check the conditions hold for {' and '.join(uses)}",
        )
    return CheckResult(
        "handler-role-permissions",
        "pass",
        f"role {role.name} grants the {len(expected.stream_actions)} stream read permissions "
        f"and the {len(expected.state_table_actions)} ledger permissions {on_state}",
    )


def evaluate_grants(
    statements: tuple[Statement, ...], resource_of: dict[str, str]
) -> tuple[list[str], list[str]]:
    """The actions the statements do not allow on their resource, and those they allow only
    under a condition."""
    missing: list[str] = []
    conditional: list[str] = []
    for action, resource in resource_of.items():
        allowed, relies_on_condition = decide(statements, action, resource)
        if not allowed:
            missing.append(action)
        elif relies_on_condition:
            conditional.append(action)
    return missing, conditional


def _state_table_arn(facts: Facts) -> str:
    """The state table's ARN as described; when it does not exist, where it would be: in the
    function's partition, region and account (the CDK role names it so), else anywhere."""
    table = facts.state_table
    if table.arn:
        return table.arn
    parts = (facts.function.arn or "").split(":")
    if len(parts) >= 5 and parts[1] and parts[3] and parts[4]:
        return f"arn:{parts[1]}:dynamodb:{parts[3]}:{parts[4]}:table/{table.name}"
    return f"arn:aws:dynamodb:*:*:table/{table.name}"


def handler_log_group(facts: Facts, expected: Expectations) -> CheckResult:
    if facts.log_group_exists is None:
        return unreadable(
            "handler-log-group",
            f"could not look up {facts.log_group}",
            "logs:DescribeLogGroups",
            status="warn",
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
