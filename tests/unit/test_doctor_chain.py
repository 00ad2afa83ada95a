"""The doctor's replay-chain checks, facts in: a dropped batch reaches an SQS queue, the
handler may send there, and the reconciler replays that same queue with the grants it needs."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reconciler.doctor.checks import CheckResult, evaluate
from reconciler.doctor.checks.chain import same_queue
from reconciler.doctor.facts import Facts, QueueFacts, RoleFacts, Statement
from reconciler.kernel import deployment_spec as deployed
from tests.unit.test_doctor_checks import (
    EXPECTED,
    GRANTS,
    GREEN,
    LEDGER,
    MAPPING,
    QUEUE,
    QUEUE_URL,
    SEND,
    STREAM,
    TASK_ROLE,
)

CHAIN = ("on-failure-queue", "on-failure-send", "replay-queue", "replay-permissions")
OTHER_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/somewhere-else"


def chain(facts: Facts) -> dict[str, CheckResult]:
    return {r.name: r for r in evaluate(facts, EXPECTED) if r.name in CHAIN}


def statuses(facts: Facts) -> dict[str, str]:
    return {name: r.status for name, r in chain(facts).items()}


def with_queue(**change: object) -> Facts:
    queue = replace(GREEN.on_failure_queues[0], **change)  # type: ignore[arg-type]
    return replace(GREEN, on_failure_queues=(queue,))


def with_replay(**change: object) -> Facts:
    assert GREEN.replay is not None
    return replace(GREEN, replay=replace(GREEN.replay, **change))  # type: ignore[arg-type]


def test_the_deployed_chain_passes_every_link() -> None:
    checks = chain(GREEN)
    assert {name: check.status for name, check in checks.items()} == dict.fromkeys(CHAIN, "pass")
    assert "stream-failures" in checks["replay-queue"].detail
    assert "output ReplayQueueUrl" in checks["replay-queue"].detail


def test_a_mapping_without_a_destination_fails_once_and_skips_the_links_after_it() -> None:
    facts = replace(
        GREEN, mappings=(replace(MAPPING, on_failure_destination=None),), on_failure_queues=()
    )
    assert statuses(facts) == {**dict.fromkeys(CHAIN, "skip"), "on-failure-queue": "fail"}
    check = chain(facts)["on-failure-queue"]
    assert "no on-failure destination" in check.detail
    assert "cdk deploy StatelessStack" in check.fix


def test_a_destination_that_is_not_an_sqs_queue_fails_as_the_replay_reads_only_sqs() -> None:
    topic = "arn:aws:sns:us-east-1:123456789012:failures"
    facts = replace(
        GREEN, mappings=(replace(MAPPING, on_failure_destination=topic),), on_failure_queues=()
    )
    check = chain(facts)["on-failure-queue"]
    assert check.status == "fail"
    assert "not an SQS queue" in check.detail


def test_a_deleted_queue_fails_and_each_later_link_is_skipped() -> None:
    facts = with_queue(exists=False, url=None)
    assert statuses(facts) == {**dict.fromkeys(CHAIN, "skip"), "on-failure-queue": "fail"}
    assert "does not exist" in chain(facts)["on-failure-queue"].detail


def test_a_queue_doctor_may_not_look_up_names_the_permission_it_needs() -> None:
    check = chain(with_queue(exists=False, error="AccessDenied"))["on-failure-queue"]
    assert check.status == "fail"
    assert "AccessDenied" in check.detail
    assert "sqs:GetQueueUrl" in check.fix


def test_a_queue_under_a_customer_key_warns_that_both_roles_need_it() -> None:
    facts = with_queue(kms_key="arn:aws:kms:us-east-1:123456789012:key/k-1")
    check = chain(facts)["on-failure-queue"]
    assert check.status == "warn"
    assert "kms:Decrypt" in check.fix
    assert chain(with_queue(kms_key="alias/aws/sqs"))["on-failure-queue"].status == "pass"


def test_a_handler_role_that_may_not_send_fails_naming_the_queue() -> None:
    facts = replace(GREEN, role=RoleFacts(name="r", statements=(*GRANTS, LEDGER)))
    check = chain(facts)["on-failure-send"]
    assert check.status == "fail"
    assert check.detail == f"role r lacks sqs:SendMessage on {QUEUE}"
    assert "StatelessStack does this" in check.fix


def test_a_send_denied_explicitly_fails_even_beside_an_allow() -> None:
    deny = Statement(effect="Deny", actions=("sqs:*",), resources=("*",))
    facts = replace(GREEN, role=RoleFacts(name="r", statements=(*GRANTS, LEDGER, SEND, deny)))
    assert chain(facts)["on-failure-send"].status == "fail"


def test_a_conditional_send_grant_warns() -> None:
    conditional = replace(SEND, conditional=True)
    facts = replace(GREEN, role=RoleFacts(name="r", statements=(*GRANTS, LEDGER, conditional)))
    assert chain(facts)["on-failure-send"].status == "warn"


def test_a_reconciler_replaying_another_queue_fails_with_the_right_url_in_the_fix() -> None:
    check = chain(with_replay(queue_url=OTHER_URL))["replay-queue"]
    assert check.status == "fail"
    assert "somewhere-else" in check.detail
    assert f"--on-failure-queue-url {QUEUE_URL}" in check.fix


def test_the_operators_setting_is_checked_and_named() -> None:
    given = "--on-failure-queue-url / RECONCILER_ON_FAILURE_QUEUE_URL"
    check = chain(with_replay(queue_url=QUEUE_URL, named_by=given))["replay-queue"]
    assert check.status == "pass"
    assert given in check.detail


def test_a_reconciler_stack_that_does_not_replay_fails() -> None:
    check = chain(with_replay(queue_url=None, named_by=""))["replay-queue"]
    assert check.status == "fail"
    assert "does not replay" in check.detail
    assert "cdk deploy ReconcilerStack" in check.fix


def test_without_a_stack_or_a_setting_doctor_warns_that_it_cannot_tell() -> None:
    facts = with_replay(queue_url=None, named_by="", stack_found=False, role=None)
    checks = chain(facts)
    assert checks["replay-queue"].status == "warn"
    assert "--on-failure-queue-url" in checks["replay-queue"].fix
    assert checks["replay-permissions"].status == "warn"


def test_a_stack_doctor_may_not_read_warns_naming_the_permission() -> None:
    facts = with_replay(queue_url=None, named_by="", stack_found=False, error="AccessDenied")
    check = chain(facts)["replay-queue"]
    assert check.status == "warn"
    assert "cloudformation:DescribeStacks" in check.fix


def test_without_replay_facts_only_the_stream_paths_links_are_checked() -> None:
    assert set(statuses(replace(GREEN, replay=None))) == {"on-failure-queue", "on-failure-send"}


@pytest.mark.parametrize(
    ("statements", "lacking"),
    [
        ((TASK_ROLE.statements[1],), "sqs:ReceiveMessage"),
        ((TASK_ROLE.statements[0],), "dynamodb:GetRecords"),
        (
            (
                Statement(
                    effect="Allow",
                    actions=deployed.REPLAY_QUEUE_ACTIONS,
                    resources=("arn:aws:sqs:us-east-1:123456789012:somewhere-else",),
                ),
                TASK_ROLE.statements[1],
            ),
            "sqs:DeleteMessage",
        ),
    ],
)
def test_a_task_role_missing_a_replay_grant_fails_naming_it(
    statements: tuple[Statement, ...], lacking: str
) -> None:
    facts = with_replay(role=RoleFacts(name="task", statements=statements))
    check = chain(facts)["replay-permissions"]
    assert check.status == "fail"
    assert lacking in check.detail
    assert "cdk deploy ReconcilerStack" in check.fix


def test_the_task_role_is_checked_on_the_tables_current_stream() -> None:
    old_stream_only = Statement(
        effect="Allow",
        actions=deployed.REPLAY_STREAM_ACTIONS,
        resources=(STREAM.replace("2026", "2025"),),
    )
    role = RoleFacts(name="task", statements=(TASK_ROLE.statements[0], old_stream_only))
    check = chain(with_replay(role=role))["replay-permissions"]
    assert check.status == "fail"
    assert check.detail == (
        "role task lacks dynamodb:DescribeStream, dynamodb:GetShardIterator, "
        f"dynamodb:GetRecords on {STREAM}"
    )


def test_an_unreadable_task_role_names_the_iam_reads_doctor_needs() -> None:
    facts = with_replay(role=RoleFacts(name="task", error="AccessDenied"))
    check = chain(facts)["replay-permissions"]
    assert check.status == "fail"
    assert "iam:GetRolePolicy" in check.fix


@pytest.mark.parametrize(
    ("url", "same"),
    [
        (QUEUE_URL, True),
        ("https://sqs.us-east-1.amazonaws.com/123456789012/stream-failures/", True),
        ("http://127.0.0.1:5000/123456789012/stream-failures", True),
        ("https://sqs.us-east-1.amazonaws.com/210987654321/stream-failures", False),
        (OTHER_URL, False),
        ("stream-failures", False),
    ],
)
def test_a_queue_url_names_the_queue_of_an_arn_by_account_and_name(url: str, same: bool) -> None:
    assert same_queue(url, QUEUE) is same


def test_the_queue_facts_fixture_is_the_mappings_destination() -> None:
    assert GREEN.on_failure_queues == (
        QueueFacts(
            arn=MAPPING.on_failure_destination or "",
            name="stream-failures",
            exists=True,
            url=QUEUE_URL,
        ),
    )
