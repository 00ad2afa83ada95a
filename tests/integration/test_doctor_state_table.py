"""``reconciler doctor`` on the state table the handler keeps its ledger in: found through the
flag, the StatefulStack export or the default name; TTL on; the handler role may keep the ledger."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.kernel import deployment_spec as deployed
from tests.integration.deployed_world import World, create_state_table, export_stream_arn, policy
from tests.integration.doctor_support import doctor, failing, green_world

world = pytest.fixture(green_world)


def test_the_all_green_state_table_is_the_exported_one_with_ttl_and_the_ledger_grant(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    _, checks = doctor(capsys, world)

    assert checks["state-table"]["detail"] == (
        f"state table {world.state_table} exists, TTL on expiresAt"
    )
    assert checks["handler-role-permissions"]["detail"].endswith(
        f"and the 4 ledger permissions on state table {world.state_table}"
    )


def test_a_missing_state_table_fails_with_the_stateful_stack_or_init_as_the_fix(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    clients.dynamodb().delete_table(TableName=world.state_table)

    code, checks = doctor(capsys, world)

    assert code == 1
    assert failing(checks) == {"state-table"}
    assert (
        f"state table {world.state_table} (export StateTableName) not found"
        in (checks["state-table"]["detail"])
    )
    assert "`cdk deploy StatefulStack`" in checks["state-table"]["fix"]
    assert "reconciler init" in checks["state-table"]["fix"]


def test_a_state_table_without_ttl_fails(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    clients.dynamodb().update_time_to_live(
        TableName=world.state_table,
        TimeToLiveSpecification={"Enabled": False, "AttributeName": "expiresAt"},
    )

    code, checks = doctor(capsys, world)

    assert code == 1
    assert failing(checks) == {"state-table"}
    assert "has no TTL" in checks["state-table"]["detail"]
    assert "update-time-to-live" in checks["state-table"]["fix"]


def test_a_handler_role_that_may_not_keep_the_ledger_fails(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    clients.iam().put_role_policy(
        RoleName=world.role_name,
        PolicyName="ledger",
        PolicyDocument=policy(["dynamodb:BatchGetItem", "dynamodb:GetItem"], world.state_table_arn),
    )

    code, checks = doctor(capsys, world)

    assert code == 1
    assert failing(checks) == {"handler-role-permissions"}
    assert checks["handler-role-permissions"]["detail"] == (
        f"role {world.role_name} lacks dynamodb:PutItem, dynamodb:ConditionCheckItem "
        f"on state table {world.state_table}"
    )
    assert world.state_table_arn in checks["handler-role-permissions"]["fix"]


def test_a_generated_state_table_name_is_found_through_the_stateful_export(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN StatefulStack deployed without -c tableName: both names generated, both exported
    generated = "StatefulStack-StateTable9728C7E5-1A2B3C"
    create_state_table(clients, generated)
    cloudformation = clients.cloudformation()
    cloudformation.delete_stack(StackName="StatefulStack")
    export_stream_arn(
        clients,
        world.stream_arn,
        **{
            deployed.TABLE_NAME_EXPORT: world.table_name,
            deployed.STATE_TABLE_NAME_EXPORT: generated,
        },
    )

    _, checks = doctor(capsys, world)

    assert checks["state-table"]["status"] == "pass"
    assert generated in checks["state-table"]["detail"]
    # the role is checked on that table too: this world's role grants the other one
    assert failing(checks) == {"handler-role-permissions"}
    assert f"on state table {generated}" in checks["handler-role-permissions"]["detail"]


def test_the_state_table_can_be_named_by_flag_or_environment(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    _, by_flag = doctor(capsys, world, "--state-table", "elsewhere")
    _, by_env = doctor(capsys, world, env={"RECONCILER_STATE_TABLE": "elsewhere"})

    for checks in (by_flag, by_env):
        assert checks["state-table"]["status"] == "fail"
        assert checks["state-table"]["detail"] == (
            "state table elsewhere (--state-table / RECONCILER_STATE_TABLE) not found in this "
            "account and region"
        )
