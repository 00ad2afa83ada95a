"""``reconciler doctor`` checks the replay chain on a moto server: the mapping's on-failure
queue exists, the handler may send to it, and the deployed reconciler replays that same queue
with the grants a replay needs. One broken link per test."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.kernel import deployment_spec as deployed
from tests.integration.deployed_world import RECONCILER_ROLE, World, deploy_reconciler
from tests.integration.doctor_support import doctor, failing, green_world, statuses

world = pytest.fixture(green_world)

CHAIN = ("on-failure-queue", "on-failure-send", "replay-queue", "replay-permissions")


def chain(checks: dict[str, dict[str, str]]) -> dict[str, str]:
    return {name: status for name, status in statuses(checks).items() if name in CHAIN}


def queue_url(clients: Any, world: World) -> str:
    return str(clients.sqs().get_queue_url(QueueName=world.queue_name)["QueueUrl"])


def test_the_deployed_chain_passes_and_says_where_the_reconcilers_queue_came_from(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, checks = doctor(capsys, world)

    assert code == 0
    assert chain(checks) == dict.fromkeys(CHAIN, "pass")
    assert world.queue_name in checks["on-failure-queue"]["detail"]
    detail = checks["replay-queue"]["detail"]
    assert f"output {deployed.RECONCILER_QUEUE_URL_OUTPUT}" in detail
    assert RECONCILER_ROLE in checks["replay-permissions"]["detail"]


def test_a_handler_role_that_may_not_send_breaks_the_chain(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    clients.iam().delete_role_policy(RoleName=world.role_name, PolicyName="report-dropped")

    code, checks = doctor(capsys, world)

    assert code == 1
    assert failing(checks) == {"on-failure-send"}
    assert f"sqs:SendMessage on {world.queue_arn}" in checks["on-failure-send"]["detail"]


def test_a_deleted_on_failure_queue_fails_its_link_and_skips_the_rest(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    clients.sqs().delete_queue(QueueUrl=queue_url(clients, world))

    code, checks = doctor(capsys, world, "--skip-alarms")

    assert code == 1
    assert "on-failure-queue" in failing(checks)
    assert {checks[name]["status"] for name in CHAIN if name != "on-failure-queue"} == {"skip"}
    assert "does not exist" in checks["on-failure-queue"]["detail"]
    assert "cdk deploy StatelessStack" in checks["on-failure-queue"]["fix"]


def test_a_reconciler_given_another_queue_fails_and_the_fix_names_the_right_url(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    other = clients.sqs().create_queue(QueueName="not-the-mappings")["QueueUrl"]

    code, checks = doctor(capsys, world, "--on-failure-queue-url", other)

    assert code == 1
    assert failing(checks) == {"replay-queue"}
    assert "not-the-mappings" in checks["replay-queue"]["detail"]
    assert queue_url(clients, world) in checks["replay-queue"]["fix"]


def test_the_reconcilers_own_environment_variable_is_read_and_named(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"RECONCILER_ON_FAILURE_QUEUE_URL": queue_url(clients, world)}

    code, checks = doctor(capsys, world, env=env)

    assert code == 0
    assert "RECONCILER_ON_FAILURE_QUEUE_URL" in checks["replay-queue"]["detail"]


def test_without_a_reconciler_stack_doctor_warns_that_it_cannot_tell(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    clients.cloudformation().delete_stack(StackName=deployed.RECONCILER_STACK_NAME)

    code, checks = doctor(capsys, world)

    assert code == 0
    assert chain(checks) == {
        "on-failure-queue": "pass",
        "on-failure-send": "pass",
        "replay-queue": "warn",
        "replay-permissions": "warn",
    }
    assert "--on-failure-queue-url" in checks["replay-queue"]["fix"]


def test_a_reconciler_stack_deployed_without_replay_fails(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    cloudformation = clients.cloudformation()
    cloudformation.delete_stack(StackName=deployed.RECONCILER_STACK_NAME)
    clients.iam().delete_role_policy(RoleName=RECONCILER_ROLE, PolicyName="replay-queue")
    clients.iam().delete_role_policy(RoleName=RECONCILER_ROLE, PolicyName="replay-stream")
    clients.iam().delete_role(RoleName=RECONCILER_ROLE)
    deploy_reconciler(
        clients,
        world.queue_name,
        world.queue_arn,
        world.stream_arn,
        stack_name="OldReconciler",
        replays=False,
    )

    code, checks = doctor(capsys, world, "--reconciler-stack", "OldReconciler")

    assert code == 1
    assert "replay-queue" in failing(checks)
    assert "OldReconciler does not replay" in checks["replay-queue"]["detail"]


def test_a_task_role_that_may_not_delete_replayed_messages_fails(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    clients.iam().delete_role_policy(RoleName=RECONCILER_ROLE, PolicyName="replay-queue")

    code, checks = doctor(capsys, world)

    assert code == 1
    assert failing(checks) == {"replay-permissions"}
    detail = checks["replay-permissions"]["detail"]
    assert "sqs:ReceiveMessage" in detail
    assert "sqs:DeleteMessage" in detail
    assert world.queue_arn in detail
