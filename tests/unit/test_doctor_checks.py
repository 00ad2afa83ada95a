"""The doctor's pure decisions: facts in, pass / warn / fail with a fix out."""

from __future__ import annotations

from dataclasses import replace

import pytest

from reconciler.doctor.checks import CheckResult, Expectations, evaluate, failed
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
from reconciler.doctor.policy import decide, statements_of
from reconciler.kernel import deployment_spec as deployed

TABLE = "registrations"
STREAM = f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}/stream/2026-01-01T00:00:00.000"
OLD_STREAM = f"arn:aws:dynamodb:us-east-1:123456789012:table/{TABLE}/stream/2025-01-01T00:00:00.000"
QUEUE = "arn:aws:sqs:us-east-1:123456789012:stream-failures"
STATE_TABLE = f"{TABLE}-state"
STATE_ARN = f"arn:aws:dynamodb:us-east-1:123456789012:table/{STATE_TABLE}"
EXPECTED = Expectations(table_name=TABLE, on_failure_queue="stream-failures")

GRANTS = (
    Statement(
        effect="Allow",
        actions=("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"),
        resources=(STREAM,),
    ),
    Statement(effect="Allow", actions=("dynamodb:ListStreams",), resources=("*",)),
)
LEDGER = Statement(
    effect="Allow", actions=deployed.HANDLER_STATE_TABLE_ACTIONS, resources=(STATE_ARN,)
)
"""The handler's grant on the state table, as StatelessStack gives it."""
SEND = Statement(effect="Allow", actions=("sqs:SendMessage",), resources=(QUEUE,))
CHAIN_CHECKS = frozenset(
    {"on-failure-queue", "on-failure-send", "replay-queue", "replay-permissions"}
)
"""The handler's grant on its on-failure queue, as StatelessStack gives it."""
QUEUE_URL = "https://sqs.us-east-1.amazonaws.com/123456789012/stream-failures"
TASK_ROLE = RoleFacts(
    name="task",
    statements=(
        Statement(effect="Allow", actions=deployed.REPLAY_QUEUE_ACTIONS, resources=(QUEUE,)),
        Statement(effect="Allow", actions=deployed.REPLAY_STREAM_ACTIONS, resources=(STREAM,)),
    ),
)
"""The reconciler's replay grants, as ReconcilerStack gives them."""
MAPPING = MappingFacts(
    uuid="m-1",
    event_source_arn=STREAM,
    state="Enabled",
    batch_size=deployed.BATCH_SIZE,
    batching_window_seconds=deployed.BATCHING_WINDOW_SECONDS,
    maximum_retry_attempts=deployed.MAX_RETRY_ATTEMPTS,
    bisect_on_error=True,
    function_response_types=("ReportBatchItemFailures",),
    maximum_record_age_seconds=deployed.MAX_RECORD_AGE_SECONDS,
    on_failure_destination=QUEUE,
)
GREEN = Facts(
    table=TableFacts(
        name=TABLE,
        exists=True,
        stream_enabled=True,
        stream_view_type="NEW_AND_OLD_IMAGES",
        stream_arn=STREAM,
    ),
    export=ExportFacts(name="TableStreamArn", value=STREAM),
    function=FunctionFacts(name="updateAttendeeCounter", exists=True, role_arn="arn:role/r"),
    state_table=StateTableFacts(
        name=STATE_TABLE,
        exists=True,
        named_by="export StateTableName",
        arn=STATE_ARN,
        ttl_status="ENABLED",
        ttl_attribute="expiresAt",
    ),
    mappings=(MAPPING,),
    role=RoleFacts(name="r", statements=(*GRANTS, LEDGER, SEND)),
    log_group="/aws/lambda/updateAttendeeCounter",
    log_group_exists=True,
    alarms=AlarmFacts(
        expected=("a-errors", "a-age"),
        states={"a-errors": "OK", "a-age": "INSUFFICIENT_DATA"},
        runbooks={
            "a-errors": "https://runbooks.example.com/handler-errors",
            "a-age": "https://runbooks.example.com/handler-iterator-age",
        },
    ),
    on_failure_queues=(QueueFacts(arn=QUEUE, name="stream-failures", exists=True, url=QUEUE_URL),),
    replay=ReplayFacts(
        stack="ReconcilerStack",
        stack_found=True,
        queue_url=QUEUE_URL,
        named_by="stack ReconcilerStack output ReplayQueueUrl",
        role=TASK_ROLE,
    ),
)


def results(facts: Facts, expected: Expectations = EXPECTED) -> dict[str, CheckResult]:
    return {r.name: r for r in evaluate(facts, expected)}


def not_passing(facts: Facts) -> dict[str, str]:
    return {name: r.status for name, r in results(facts).items() if r.status != "pass"}


def test_green_facts_pass_every_check() -> None:
    assert not_passing(GREEN) == {}
    assert not failed(evaluate(GREEN, EXPECTED))


def test_missing_table_fails_and_says_to_deploy_the_stateful_stack_first() -> None:
    facts = replace(GREEN, table=TableFacts(name=TABLE, exists=False))
    checks = results(facts)
    assert checks["table-exists"].status == "fail"
    assert "cdk deploy StatefulStack" in checks["table-exists"].fix


def test_disabled_stream_is_the_guides_streams_not_enabled() -> None:
    facts = replace(GREEN, table=replace(GREEN.table, stream_enabled=False, stream_arn=None))
    check = results(facts)["stream-enabled"]
    assert check.status == "fail"
    assert "Streams not enabled" in check.fix


def test_wrong_view_type_fails() -> None:
    facts = replace(GREEN, table=replace(GREEN.table, stream_view_type="KEYS_ONLY"))
    assert "KEYS_ONLY" in results(facts)["stream-enabled"].detail


def test_missing_export_is_the_guides_stream_arn_not_found() -> None:
    facts = replace(GREEN, export=ExportFacts(name="TableStreamArn", value=None))
    assert not_passing(facts) == {"stream-export": "fail"}
    assert "Stream ARN not found" in results(facts)["stream-export"].fix


def test_export_of_an_old_stream_fails() -> None:
    facts = replace(GREEN, export=ExportFacts(name="TableStreamArn", value=OLD_STREAM))
    assert "current stream is" in results(facts)["stream-export"].detail


def test_unreadable_facts_fail_with_the_permission_the_doctor_needs() -> None:
    facts = replace(GREEN, export=ExportFacts(name="TableStreamArn", value=None, error="Denied"))
    check = results(facts)["stream-export"]
    assert (check.status, check.fix) == (
        "fail",
        "allow cloudformation:ListExports to the credentials running doctor",
    )


def test_mapping_on_an_old_stream_is_found_but_fails_the_stream_check() -> None:
    facts = replace(GREEN, mappings=(replace(MAPPING, event_source_arn=OLD_STREAM),))
    assert not_passing(facts) == {"mapping-stream": "fail"}
    assert "Stream handler not triggering" in results(facts)["mapping-stream"].fix


def test_mapping_on_the_current_stream_is_preferred_over_a_stale_one() -> None:
    stale = replace(MAPPING, uuid="old", event_source_arn=OLD_STREAM, state="Disabled")
    facts = replace(GREEN, mappings=(stale, MAPPING))
    assert not_passing(facts) == {}


def test_mappings_on_other_sources_do_not_count() -> None:
    other = replace(MAPPING, event_source_arn="arn:aws:sqs:us-east-1:123456789012:other")
    check = results(replace(GREEN, mappings=(other,)))["mapping-exists"]
    assert check.status == "fail"
    assert "1 mapping(s) on other sources" in check.detail


@pytest.mark.parametrize(("state", "status"), [("Disabled", "fail"), ("Enabling", "warn")])
def test_mapping_state(state: str, status: str) -> None:
    facts = replace(GREEN, mappings=(replace(MAPPING, state=state),))
    assert not_passing(facts) == {"mapping-enabled": status}


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ({"batch_size": 100}, "batch size 100 (want 10)"),
        ({"batching_window_seconds": 0}, "batching window 0 (want 5)"),
        ({"maximum_retry_attempts": -1}, "retries -1 (want 3)"),
        ({"bisect_on_error": False}, "bisect on error False (want True)"),
        ({"function_response_types": ()}, "response types [] (want ['ReportBatchItemFailures'])"),
        ({"maximum_record_age_seconds": -1}, "maximum record age -1 (want 3600)"),
        ({"on_failure_destination": None}, "no on-failure destination"),
        ({"on_failure_destination": "arn:aws:sqs:us-east-1:1:other"}, "want queue stream-failures"),
    ],
)
def test_each_mapping_setting_that_differs_from_the_spec_is_named(
    change: dict[str, object], named: str
) -> None:
    facts = replace(GREEN, mappings=(replace(MAPPING, **change),))  # type: ignore[arg-type]
    # a destination elsewhere also breaks the replay chain (tests/unit/test_doctor_chain.py)
    assert set(not_passing(facts)) - CHAIN_CHECKS == {"mapping-settings"}
    assert not_passing(facts)["mapping-settings"] == "fail"
    assert named in results(facts)["mapping-settings"].detail


def test_wrong_mapping_settings_point_at_the_module_that_defines_them() -> None:
    facts = replace(GREEN, mappings=(replace(MAPPING, batch_size=100),))
    source = results(facts)["mapping-settings"].fix.rsplit(" ", 1)[-1]
    assert source == "reconciler/kernel/deployment_spec.py"
    assert deployed.__file__.replace("\\", "/").endswith(source)


def test_missing_permissions_are_the_guides_permission_denied() -> None:
    facts = replace(GREEN, role=RoleFacts(name="r", statements=(GRANTS[0], LEDGER)))
    check = results(facts)["handler-role-permissions"]
    assert check.status == "fail"
    assert check.detail == "role r lacks dynamodb:ListStreams"
    assert "Permission denied" in check.fix


def test_list_streams_granted_only_on_the_stream_arn_does_not_count() -> None:
    scoped = Statement(effect="Allow", actions=deployed.STREAM_READ_ACTIONS, resources=(STREAM,))
    facts = replace(GREEN, role=RoleFacts(name="r", statements=(scoped, LEDGER)))
    assert "dynamodb:ListStreams" in results(facts)["handler-role-permissions"].detail


def test_conditional_grant_is_a_warning() -> None:
    conditional = tuple(replace(s, conditional=True) for s in GRANTS)
    facts = replace(GREEN, role=RoleFacts(name="r", statements=(*conditional, LEDGER, SEND)))
    assert not_passing(facts) == {"handler-role-permissions": "warn"}


def test_missing_log_group_warns() -> None:
    assert not_passing(replace(GREEN, log_group_exists=False)) == {"handler-log-group": "warn"}


FUNCTION_ARN = "arn:aws:lambda:us-east-1:123456789012:function:updateAttendeeCounter"
LOG_GROUP_ARN = "arn:aws:logs:us-east-1:123456789012:log-group:/aws/lambda/updateAttendeeCounter"


def test_missing_log_group_fails_when_the_role_cannot_create_it() -> None:
    # GIVEN the StatelessStack role: stream reads, and writes only into the existing group
    writes = Statement(
        effect="Allow",
        actions=("logs:CreateLogStream", "logs:PutLogEvents"),
        resources=(f"{LOG_GROUP_ARN}:*",),
    )
    function = replace(GREEN.function, arn=FUNCTION_ARN)
    role = RoleFacts(name="r", statements=(*GRANTS, LEDGER, SEND, writes))
    # WHEN the group is gone
    facts = replace(GREEN, function=function, role=role, log_group_exists=False)
    # THEN Lambda can never re-create it: the deployment is broken
    assert not_passing(facts) == {"handler-log-group": "fail"}
    assert "StatelessStack" in results(facts)["handler-log-group"].fix


def test_missing_log_group_only_warns_when_lambda_may_still_create_it() -> None:
    basic = Statement(effect="Allow", actions=("logs:CreateLogGroup",), resources=("*",))
    function = replace(GREEN.function, arn=FUNCTION_ARN)
    role = RoleFacts(name="r", statements=(*GRANTS, LEDGER, SEND, basic))
    facts = replace(GREEN, function=function, role=role, log_group_exists=False)
    assert not_passing(facts) == {"handler-log-group": "warn"}


def test_alarms_that_notify_nobody_fail_like_missing_ones() -> None:
    assert GREEN.alarms is not None
    silent = replace(GREEN.alarms, silent=("a-errors",))
    checks = results(replace(GREEN, alarms=silent))
    assert checks["alarms-exist"].status == "fail"
    assert "a-errors" in checks["alarms-exist"].detail


def test_alarms_missing_or_in_alarm_fail_and_insufficient_data_passes() -> None:
    alarms = AlarmFacts(
        expected=("a-errors", "a-age", "a-gone"),
        states={"a-errors": "ALARM", "a-age": "INSUFFICIENT_DATA"},
        runbooks={"a-errors": "https://runbooks.example.com/handler-errors"},
    )
    checks = results(replace(GREEN, alarms=alarms))
    assert checks["alarms-exist"].status == "fail"
    assert "a-gone" in checks["alarms-exist"].detail
    assert checks["alarms-not-in-alarm"].status == "fail"
    assert "https://runbooks.example.com/handler-errors" in checks["alarms-not-in-alarm"].fix


def test_skipped_alarms_produce_no_alarm_checks() -> None:
    assert "alarms-exist" not in results(replace(GREEN, alarms=None))


@pytest.mark.parametrize(
    ("statement", "allowed"),
    [
        ({"Effect": "Allow", "Action": "dynamodb:*", "Resource": "*"}, True),
        ({"Effect": "Allow", "Action": "DynamoDB:getrecords", "Resource": STREAM}, True),
        ({"Effect": "Allow", "Action": "dynamodb:Get*", "Resource": f"{STREAM[:-8]}*"}, True),
        ({"Effect": "Allow", "Action": "dynamodb:GetRecord?", "Resource": "*"}, True),
        ({"Effect": "Allow", "Action": "dynamodb:GetItem", "Resource": "*"}, False),
        ({"Effect": "Allow", "NotAction": "s3:*", "Resource": "*"}, True),
        ({"Effect": "Allow", "NotAction": "dynamodb:*", "Resource": "*"}, False),
        ({"Effect": "Allow", "Action": "*", "NotResource": STREAM}, False),
        ({"Effect": "Allow", "Action": "*", "Resource": OLD_STREAM}, False),
    ],
)
def test_policy_matching_follows_iam_wildcards(statement: dict[str, object], allowed: bool) -> None:
    statements = statements_of({"Statement": statement})
    assert decide(statements, "dynamodb:GetRecords", STREAM)[0] is allowed


def test_explicit_deny_wins() -> None:
    statements = statements_of(
        {
            "Statement": [
                {"Effect": "Allow", "Action": "*", "Resource": "*"},
                {"Effect": "Deny", "Action": "dynamodb:GetRecords", "Resource": "*"},
            ]
        }
    )
    assert decide(statements, "dynamodb:GetRecords", STREAM) == (False, False)
    assert decide(statements, "dynamodb:DescribeStream", STREAM) == (True, False)
