"""What the handler's role lets it do: read the stream (the guide's "Permission denied") and
keep its log group."""

from __future__ import annotations

from reconciler.doctor.checks.result import CheckResult, Expectations, unreadable
from reconciler.doctor.facts import Facts
from reconciler.doctor.policy import decide


def handler_role_permissions(facts: Facts, expected: Expectations) -> CheckResult:
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
        return unreadable(
            "handler-role-permissions",
            f"could not read role {role.name}'s policies: {role.error}",
            "iam:GetRole, iam:List*RolePolicies, iam:GetRolePolicy, iam:GetPolicy and "
            "iam:GetPolicyVersion",
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
