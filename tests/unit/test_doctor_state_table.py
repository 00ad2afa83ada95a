"""The doctor on the state table (the counter's ledger): that it exists with TTL on
``expiresAt``, that the handler's role may keep the ledger in it, and which table it checks."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reconciler.doctor.checks import CheckResult, evaluate
from reconciler.doctor.facts import Facts, RoleFacts, Statement, StateTableFacts
from reconciler.doctor.gather import resolve_state_table
from reconciler.kernel import deployment_spec as deployed
from tests.unit.test_doctor_checks import (
    EXPECTED,
    GRANTS,
    GREEN,
    LEDGER,
    SEND,
    STATE_ARN,
    STATE_TABLE,
)

FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:updateAttendeeCounter"


def results(facts: Facts) -> dict[str, CheckResult]:
    return {r.name: r for r in evaluate(facts, EXPECTED)}


def not_passing(facts: Facts) -> dict[str, str]:
    return {name: r.status for name, r in results(facts).items() if r.status != "pass"}


def with_state_table(**change: object) -> Facts:
    return replace(GREEN, state_table=replace(GREEN.state_table, **change))  # type: ignore[arg-type]


def with_role(*statements: Statement) -> Facts:
    return replace(GREEN, role=RoleFacts(name="r", statements=(*statements, SEND)))


def test_a_state_table_with_ttl_on_expires_at_passes() -> None:
    check = results(GREEN)["state-table"]
    assert check.status == "pass"
    assert check.detail == f"state table {STATE_TABLE} exists, TTL on expiresAt"


def test_the_state_table_is_checked_right_after_the_stream_export() -> None:
    names = [r.name for r in evaluate(GREEN, EXPECTED)]
    assert names.index("state-table") == names.index("stream-export") + 1


def test_a_missing_state_table_fails_with_the_stateful_stack_or_init_as_the_fix() -> None:
    facts = replace(
        GREEN, state_table=StateTableFacts(name=STATE_TABLE, exists=False, named_by="the default")
    )
    check = results(facts)["state-table"]
    assert check.status == "fail"
    assert check.detail == (
        f"state table {STATE_TABLE} (the default) not found in this account and region"
    )
    assert "`cdk deploy StatefulStack`" in check.fix
    assert f"`reconciler init --table-name registrations --state-table {STATE_TABLE}`" in check.fix
    assert "--state-table / RECONCILER_STATE_TABLE" in check.fix


def test_a_state_table_the_doctor_may_not_describe_names_the_permission() -> None:
    facts = replace(
        GREEN,
        state_table=StateTableFacts(name=STATE_TABLE, exists=False, error="AccessDeniedException"),
    )
    check = results(facts)["state-table"]
    assert (check.status, check.fix) == (
        "fail",
        "allow dynamodb:DescribeTable to the credentials running doctor",
    )
    assert "AccessDeniedException" in check.detail


def test_a_ttl_the_doctor_may_not_read_names_describe_time_to_live() -> None:
    check = results(with_state_table(ttl_status=None, ttl_error="AccessDeniedException"))[
        "state-table"
    ]
    assert (check.status, check.fix) == (
        "fail",
        "allow dynamodb:DescribeTimeToLive to the credentials running doctor",
    )


@pytest.mark.parametrize("status", ["DISABLED", "DISABLING"])
def test_a_state_table_without_ttl_fails_because_tombstones_would_never_expire(
    status: str,
) -> None:
    facts = with_state_table(ttl_status=status, ttl_attribute=None)
    assert not_passing(facts) == {"state-table": "fail"}
    check = results(facts)["state-table"]
    assert check.detail == (
        f"state table {STATE_TABLE} has no TTL (status {status}): "
        "the ledger's tombstones would never expire"
    )
    assert "`cdk deploy StatefulStack`" in check.fix
    assert "reconciler init" in check.fix
    assert (
        f"`aws dynamodb update-time-to-live --table-name {STATE_TABLE} "
        "--time-to-live-specification Enabled=true,AttributeName=expiresAt`"
    ) in check.fix


def test_ttl_on_another_attribute_fails_and_says_to_disable_it_first() -> None:
    check = results(with_state_table(ttl_attribute="ttl"))["state-table"]
    assert check.status == "fail"
    assert f"state table {STATE_TABLE} has TTL on ttl, not expiresAt" in check.detail
    assert check.fix.startswith("disable TTL on ttl")


def test_ttl_still_being_enabled_is_a_warning() -> None:
    facts = with_state_table(ttl_status="ENABLING")
    assert not_passing(facts) == {"state-table": "warn"}


# ---- the handler's role on the state table ---------------------------------------------------


def test_the_role_passes_with_the_stream_and_ledger_permissions() -> None:
    check = results(GREEN)["handler-role-permissions"]
    assert check.status == "pass"
    assert check.detail == (
        "role r grants the 4 stream read permissions and the 4 ledger permissions "
        f"on state table {STATE_TABLE}"
    )


def test_a_role_without_the_ledger_grant_fails_naming_each_action_and_the_table() -> None:
    facts = with_role(*GRANTS)
    assert not_passing(facts) == {"handler-role-permissions": "fail"}
    check = results(facts)["handler-role-permissions"]
    assert check.detail == (
        "role r lacks dynamodb:BatchGetItem, dynamodb:GetItem, dynamodb:PutItem, "
        f"dynamodb:ConditionCheckItem on state table {STATE_TABLE}"
    )
    assert check.fix == (
        "grant dynamodb:BatchGetItem, dynamodb:GetItem, dynamodb:PutItem, "
        f"dynamodb:ConditionCheckItem on {STATE_ARN} to the handler's role "
        "(StatelessStack does this)"
    )


def test_each_ledger_action_is_required() -> None:
    for action in deployed.HANDLER_STATE_TABLE_ACTIONS:
        rest = tuple(a for a in deployed.HANDLER_STATE_TABLE_ACTIONS if a != action)
        check = results(with_role(*GRANTS, replace(LEDGER, actions=rest)))[
            "handler-role-permissions"
        ]
        assert check.detail == f"role r lacks {action} on state table {STATE_TABLE}"


def test_missing_stream_and_ledger_permissions_are_both_named_with_both_fixes() -> None:
    check = results(with_role(GRANTS[0]))["handler-role-permissions"]
    assert check.detail == (
        "role r lacks dynamodb:ListStreams; dynamodb:BatchGetItem, dynamodb:GetItem, "
        f"dynamodb:PutItem, dynamodb:ConditionCheckItem on state table {STATE_TABLE}"
    )
    assert check.fix.startswith("guide 'Permission denied': grant ")
    assert "; grant dynamodb:BatchGetItem, dynamodb:GetItem, dynamodb:PutItem, " in check.fix


def test_the_ledger_grant_on_the_registration_table_does_not_count() -> None:
    registrations = STATE_ARN.removesuffix("-state")
    check = results(with_role(*GRANTS, replace(LEDGER, resources=(registrations,))))[
        "handler-role-permissions"
    ]
    assert check.status == "fail"


def test_an_explicit_deny_on_the_state_table_beats_the_grant() -> None:
    deny = Statement(effect="Deny", actions=("dynamodb:PutItem",), resources=("*",))
    check = results(with_role(*GRANTS, LEDGER, deny))["handler-role-permissions"]
    assert check.detail == f"role r lacks dynamodb:PutItem on state table {STATE_TABLE}"


def test_a_conditional_ledger_grant_is_a_warning() -> None:
    facts = with_role(*GRANTS, replace(LEDGER, conditional=True))
    assert not_passing(facts) == {"handler-role-permissions": "warn"}
    check = results(facts)["handler-role-permissions"]
    assert f"on state table {STATE_TABLE} only under conditions" in check.detail
    assert check.fix == "check the conditions hold for the handler's ledger reads and writes"


def test_without_a_state_table_the_role_is_checked_where_the_table_would_be() -> None:
    # GIVEN the StatelessStack role, whose grant names the table before it exists
    missing = StateTableFacts(name=STATE_TABLE, exists=False, named_by="the default")
    function = replace(GREEN.function, arn=FUNCTION_ARN)
    facts = replace(GREEN, state_table=missing, function=function)
    # THEN only the table itself fails: the role is ready for it
    assert not_passing(facts) == {"state-table": "fail"}
    # AND a grant elsewhere still fails
    elsewhere = replace(LEDGER, resources=(STATE_ARN.replace("123456789012", "999999999999"),))
    facts = replace(facts, role=RoleFacts(name="r", statements=(*GRANTS, elsewhere, SEND)))
    assert not_passing(facts) == {"state-table": "fail", "handler-role-permissions": "fail"}


# ---- which state table -----------------------------------------------------------------------

DEPLOYED = {
    deployed.TABLE_NAME_EXPORT: "StatefulStack-Table-ABC",
    deployed.STATE_TABLE_NAME_EXPORT: "StatefulStack-StateTable-XYZ",
}


def test_the_state_table_the_operator_names_is_the_one_checked() -> None:
    assert resolve_state_table("ledger", "StatefulStack-Table-ABC", DEPLOYED) == (
        "ledger",
        "--state-table / RECONCILER_STATE_TABLE",
    )


def test_the_exported_state_table_is_checked_when_the_table_is_the_deployed_one() -> None:
    assert resolve_state_table(None, "StatefulStack-Table-ABC", DEPLOYED) == (
        "StatefulStack-StateTable-XYZ",
        "export StateTableName",
    )


@pytest.mark.parametrize(
    "exports",
    [{}, DEPLOYED, {deployed.STATE_TABLE_NAME_EXPORT: "StatefulStack-StateTable-XYZ"}],
    ids=["no exports", "exports of another table", "no TableName export"],
)
def test_otherwise_the_default_name_is_checked(exports: dict[str, str]) -> None:
    assert resolve_state_table(None, "registrations", exports) == (
        "registrations-state",
        "the default, <table>-state",
    )
