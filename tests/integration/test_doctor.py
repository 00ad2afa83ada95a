"""``reconciler doctor`` against a moto server: the all-green deployment, then one broken
piece per test, one per troubleshooting entry of the deployment guide."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.cli import main
from reconciler.kernel import deployment_spec as deployed
from tests.integration.deployed_world import World, policy
from tests.integration.doctor_support import PREFIX, doctor, failing, green_world, statuses
from tests.integration.terminal import stdout_is_a_terminal

world = pytest.fixture(green_world)


def test_all_green_deployment_passes_every_check(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, checks = doctor(capsys, world)

    assert failing(checks) == set(), checks
    assert code == 0
    assert statuses(checks) == {
        "table-exists": "pass",
        "stream-enabled": "pass",
        "stream-export": "pass",
        "state-table": "pass",
        "handler-exists": "pass",
        "mapping-exists": "pass",
        "mapping-enabled": "pass",
        "mapping-stream": "pass",
        "mapping-settings": "pass",
        "handler-role-permissions": "pass",
        "handler-log-group": "pass",
        "on-failure-queue": "pass",
        "on-failure-send": "pass",
        "replay-queue": "pass",
        "replay-permissions": "pass",
        "alarms-exist": "pass",
        "alarms-not-in-alarm": "pass",
    }


def test_streams_not_enabled(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    clients.dynamodb().update_table(
        TableName=world.table_name, StreamSpecification={"StreamEnabled": False}
    )

    code, checks = doctor(capsys, world)

    assert code == 1
    assert checks["stream-enabled"]["status"] == "fail"
    assert "has no stream" in checks["stream-enabled"]["detail"]
    assert "Streams not enabled" in checks["stream-enabled"]["fix"]
    assert "cdk deploy StatefulStack" in checks["stream-enabled"]["fix"]


def test_stream_view_type_without_old_images_fails(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # A table deployed with the wrong view type: REMOVE records would carry no old image.
    clients.dynamodb().create_table(
        TableName="new-image-only",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_IMAGE"},
    )

    code, checks = doctor(capsys, world, "--table-name", "new-image-only")

    assert code == 1
    assert checks["stream-enabled"]["status"] == "fail"
    assert "stream view type is NEW_IMAGE" in checks["stream-enabled"]["detail"]
    assert "Streams not enabled" in checks["stream-enabled"]["fix"]


def test_stream_arn_not_found(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    clients.cloudformation().delete_stack(StackName="StatefulStack")

    code, checks = doctor(capsys, world)

    assert code == 1
    assert failing(checks) == {"stream-export"}
    assert "no CloudFormation export named TableStreamArn" in checks["stream-export"]["detail"]
    assert "Stream ARN not found" in checks["stream-export"]["fix"]


def test_permission_denied(clients: Any, world: World, capsys: pytest.CaptureFixture[str]) -> None:
    clients.iam().put_role_policy(
        RoleName=world.role_name,
        PolicyName="stream-read",
        PolicyDocument=policy(["dynamodb:GetRecords"], world.stream_arn),
    )

    code, checks = doctor(capsys, world)

    assert code == 1
    assert failing(checks) == {"handler-role-permissions"}
    detail = checks["handler-role-permissions"]["detail"]
    for action in ("dynamodb:DescribeStream", "dynamodb:GetShardIterator", "dynamodb:ListStreams"):
        assert action in detail
    assert "dynamodb:GetRecords" not in detail
    assert "Permission denied" in checks["handler-role-permissions"]["fix"]


def test_permissions_from_an_attached_managed_policy_count(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    iam = clients.iam()
    iam.delete_role_policy(RoleName=world.role_name, PolicyName="stream-read")
    created = iam.create_policy(
        PolicyName="stream-read-managed", PolicyDocument=policy(deployed.STREAM_READ_ACTIONS)
    )
    iam.attach_role_policy(RoleName=world.role_name, PolicyArn=created["Policy"]["Arn"])

    code, checks = doctor(capsys, world)

    assert code == 0
    assert checks["handler-role-permissions"]["status"] == "pass"


def test_explicit_deny_beats_the_grant(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    deny = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "dynamodb:Get*", "Resource": "*"}],
    }
    clients.iam().put_role_policy(
        RoleName=world.role_name, PolicyName="guardrail", PolicyDocument=json.dumps(deny)
    )

    code, checks = doctor(capsys, world)

    assert code == 1
    assert "dynamodb:GetRecords" in checks["handler-role-permissions"]["detail"]


def test_stream_handler_not_triggering_because_the_mapping_is_disabled(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    clients.lambda_().update_event_source_mapping(UUID=world.mapping_uuid, Enabled=False)

    code, checks = doctor(capsys, world)

    assert code == 1
    assert failing(checks) == {"mapping-enabled"}
    assert "Disabled" in checks["mapping-enabled"]["detail"]
    assert "Stream handler not triggering" in checks["mapping-enabled"]["fix"]
    assert world.mapping_uuid in checks["mapping-enabled"]["fix"]


def test_stream_handler_not_triggering_because_there_is_no_mapping(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    clients.lambda_().delete_event_source_mapping(UUID=world.mapping_uuid)

    code, checks = doctor(capsys, world)

    assert code == 1
    # one failure; what needs a mapping (its settings, the replay chain) is skipped, not failed
    assert failing(checks) == {"mapping-exists"}
    assert {name for name, check in checks.items() if check["status"] == "skip"} == {
        "mapping-enabled",
        "mapping-stream",
        "mapping-settings",
        "on-failure-queue",
        "on-failure-send",
        "replay-queue",
        "replay-permissions",
    }
    assert "Stream handler not triggering" in checks["mapping-exists"]["fix"]


def test_mapping_settings_that_drifted_from_the_spec_are_named(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    clients.lambda_().update_event_source_mapping(
        UUID=world.mapping_uuid, BatchSize=100, MaximumRetryAttempts=-1, FunctionResponseTypes=[]
    )

    code, checks = doctor(capsys, world)

    assert code == 1
    assert failing(checks) == {"mapping-settings"}
    detail = checks["mapping-settings"]["detail"]
    assert "batch size 100 (want 10)" in detail
    assert "retries -1 (want 3)" in detail
    assert "response types" in detail


def test_missing_log_group_is_a_warning_not_a_failure(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # a role like AWSLambdaBasicExecutionRole: Lambda re-creates the group when it next logs
    clients.iam().put_role_policy(
        RoleName=world.role_name,
        PolicyName="basic-logs",
        PolicyDocument=policy(["logs:CreateLogGroup"]),
    )
    clients.logs().delete_log_group(logGroupName=f"/aws/lambda/{world.function_name}")

    code, checks = doctor(capsys, world)

    assert code == 0
    assert checks["handler-log-group"]["status"] == "warn"


def test_a_deleted_log_group_the_role_cannot_recreate_fails(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN the handler role as StatelessStack grants it: no logs:CreateLogGroup
    clients.logs().delete_log_group(logGroupName=f"/aws/lambda/{world.function_name}")

    code, checks = doctor(capsys, world)

    assert code == 1
    assert failing(checks) == {"handler-log-group"}


def test_missing_and_firing_alarms_fail_with_the_runbook(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    cloudwatch = clients.cloudwatch()
    cloudwatch.delete_alarms(AlarmNames=[f"{PREFIX}-handler-throttles-sum-warning"])
    cloudwatch.set_alarm_state(
        AlarmName=f"{PREFIX}-handler-errors-sum-critical",
        StateValue="ALARM",
        StateReason="test",
    )

    code, checks = doctor(capsys, world)

    assert code == 1
    assert failing(checks) == {"alarms-exist", "alarms-not-in-alarm"}
    assert f"{PREFIX}-handler-throttles-sum-warning" in checks["alarms-exist"]["detail"]
    assert "reconciler alarms apply" in checks["alarms-exist"]["fix"]
    assert checks["alarms-not-in-alarm"]["fix"] == (
        "follow the runbook: "
        "https://github.com/attendee-counter/reconciler/blob/main/docs/runbooks/handler-errors.md"
    )


def test_a_firing_alarm_points_to_the_runbook_url_template_doctor_is_given(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    clients.cloudwatch().set_alarm_state(
        AlarmName=f"{PREFIX}-handler-iterator-age-maximum-critical",
        StateValue="ALARM",
        StateReason="test",
    )

    _, checks = doctor(capsys, world, "--runbook-url-template", "https://wiki.example.com/{name}")

    assert checks["alarms-not-in-alarm"]["fix"] == (
        "follow the runbook: https://wiki.example.com/handler-iterator-age"
    )


def test_an_alarm_whose_actions_were_disabled_fails_because_it_pages_nobody(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN every alarm exists, but someone silenced one (e.g. during an incident, and forgot)
    silenced = f"{PREFIX}-handler-errors-sum-critical"
    clients.cloudwatch().disable_alarm_actions(AlarmNames=[silenced])

    code, checks = doctor(capsys, world)

    assert code == 1
    assert failing(checks) == {"alarms-exist"}
    assert silenced in checks["alarms-exist"]["detail"]
    assert "reconciler alarms apply" in checks["alarms-exist"]["fix"]


def test_unknown_table_fails_and_skipped_alarms_are_not_checked(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    code, checks = doctor(capsys, world, "--skip-alarms", "--table-name", "no-such-table")

    assert code == 1
    assert checks["table-exists"]["status"] == "fail"
    assert "cdk deploy StatefulStack" in checks["table-exists"]["fix"]
    assert "alarms-exist" not in checks


def test_human_output_has_one_line_per_check_and_a_fix_for_failures(
    clients: Any, world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    clients.cloudformation().delete_stack(StackName="StatefulStack")
    capsys.readouterr()

    with stdout_is_a_terminal():
        code = main(
            ["doctor", "--table-name", world.table_name, "--prefix", PREFIX, "--skip-alarms"],
            env={},
        )

    lines = capsys.readouterr().out.splitlines()
    assert code == 1
    assert [line.split()[0] for line in lines[:-1] if not line.startswith(" ")] == (
        ["PASS"] * 2 + ["FAIL"] + ["PASS"] * 12
    )
    fix_lines = [line.strip() for line in lines if line.startswith(" ")]
    assert len(fix_lines) == 1
    assert fix_lines[0].startswith("fix: guide 'Stream ARN not found'")
    assert lines[-1] == "doctor: FAILED (14 passed, 0 warnings, 1 failed, 0 skipped)"


def test_piped_output_is_one_json_document_without_asking(
    world: World, capsys: pytest.CaptureFixture[str]
) -> None:
    capsys.readouterr()
    code = main(
        ["doctor", "--table-name", world.table_name, "--prefix", PREFIX, "--skip-alarms"],
        env={},
    )

    document = json.loads(capsys.readouterr().out)  # all of stdout, and nothing else
    assert code == 0
    assert document["ok"] is True
    assert {check["status"] for check in document["checks"]} == {"pass"}


def test_missing_table_name_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    code = main(["doctor"], env={})

    assert code == 2
    assert "--table-name / TABLE_NAME" in capsys.readouterr().err


def test_no_aws_region_is_a_usage_error_not_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")

    code = main(["doctor", "--table-name", "t"], env={})

    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "AWS_REGION" in err
