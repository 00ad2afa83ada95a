"""``reconciler alarms plan|apply|destroy`` against a moto server, through the real CLI."""

from __future__ import annotations

import json
from typing import Any

import pytest

from alarms.render import OWNER_CLI
from alarms.spec import ALARM_KEYS
from reconciler.cli import main
from tests.integration.deployed_world import create_handler, create_queue, create_role

FUNCTION = "updateAttendeeCounter"
PREFIX = "ac"
HANDLER_ALARMS = {
    f"{PREFIX}-handler-errors-sum-critical",
    f"{PREFIX}-handler-duration-p90-warning",
    f"{PREFIX}-handler-throttles-sum-warning",
    f"{PREFIX}-handler-iterator-age-maximum-critical",
    f"{PREFIX}-handler-partial-batch-failures-sum-warning",
    f"{PREFIX}-handler-malformed-records-sum-warning",
}
QUEUE_ALARM = f"{PREFIX}-on-failure-queue-approximate-number-of-messages-visible-maximum-critical"
RECONCILER_ALARMS = {
    f"{PREFIX}-reconciler-drifted-sum-warning",
    f"{PREFIX}-reconciler-failed-passes-sum-critical",
}
HANDLER_KEYS = [key for key in ALARM_KEYS if key.startswith("handler-")]
DOCS = "https://github.com/attendee-counter/reconciler/blob/main/docs/runbooks"


@pytest.fixture
def handler(clients: Any) -> str:
    return create_handler(clients, create_role(clients), FUNCTION, timeout=60)


def alarms_cli(
    capsys: pytest.CaptureFixture[str], *argv: str, env: dict[str, str] | None = None
) -> tuple[int, str, str]:
    capsys.readouterr()
    code = main(["alarms", *argv, "--prefix", PREFIX, "--log-format", "json"], env=env or {})
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def plan_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, list[str]]:
    code, out, err = alarms_cli(capsys, "plan", "--json", *argv)
    assert code == 0, err
    result: dict[str, list[str]] = json.loads(out)
    return result


def described(clients: Any) -> dict[str, dict[str, Any]]:
    alarms = clients.cloudwatch().describe_alarms(AlarmNamePrefix=f"{PREFIX}-")["MetricAlarms"]
    return {a["AlarmName"]: a for a in alarms}


def topic_arn(clients: Any, name: str = f"{PREFIX}-alarms") -> str:
    return str(clients.sns().create_topic(Name=name)["TopicArn"])


def test_apply_creates_exactly_the_handler_alarms_with_their_settings(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = alarms_cli(capsys, "apply")

    assert code == 0, err
    alarms = described(clients)
    assert set(alarms) == HANDLER_ALARMS
    topic = topic_arn(clients)
    for alarm in alarms.values():
        assert alarm["AlarmActions"] == [topic]
        assert alarm["OKActions"] == [topic]
        assert alarm["Dimensions"] == [{"Name": "FunctionName", "Value": FUNCTION}]
        assert f"Runbook: {DOCS}/handler-" in alarm["AlarmDescription"]
    errors = alarms[f"{PREFIX}-handler-errors-sum-critical"]
    assert (errors["Namespace"], errors["MetricName"], errors["Statistic"]) == (
        "AWS/Lambda",
        "Errors",
        "Sum",
    )
    assert (errors["Period"], errors["EvaluationPeriods"], errors["DatapointsToAlarm"]) == (
        60,
        3,
        3,
    )
    assert (errors["ComparisonOperator"], errors["Threshold"]) == ("GreaterThanThreshold", 0.0)
    assert errors["TreatMissingData"] == "notBreaching"
    duration = alarms[f"{PREFIX}-handler-duration-p90-warning"]
    assert duration["ExtendedStatistic"] == "p90"
    assert "Statistic" not in duration
    assert duration["Threshold"] == 48_000.0  # 80 % of the function's 60 s timeout, in ms
    assert (duration["EvaluationPeriods"], duration["DatapointsToAlarm"]) == (15, 15)
    throttles = alarms[f"{PREFIX}-handler-throttles-sum-warning"]
    assert throttles["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert throttles["Threshold"] == 1.0
    age = alarms[f"{PREFIX}-handler-iterator-age-maximum-critical"]
    assert (age["Statistic"], age["Threshold"]) == ("Maximum", 120_000.0)
    partial = alarms[f"{PREFIX}-handler-partial-batch-failures-sum-warning"]
    assert (partial["Namespace"], partial["MetricName"]) == (
        "AttendeeCounter/Handler",
        "PartialBatchFailures",
    )
    assert "apply: 6 changes (6 created" in out


def runbook_links(clients: Any) -> dict[str, str]:
    """Alarm key -> the runbook URL its description ends with."""
    cloudwatch = clients.cloudwatch()
    links = {}
    for alarm in described(clients).values():
        tags = cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]
        key = next(t["Value"] for t in tags if t["Key"] == "AlarmKey")
        description, _, links[key] = alarm["AlarmDescription"].rpartition(" Runbook: ")
        assert description.endswith("."), alarm["AlarmName"]
    return links


def test_every_alarm_description_links_its_runbook_page_in_the_docs(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    create_queue(clients, "stream-failures")

    code, _, err = alarms_cli(
        capsys,
        "apply",
        "--on-failure-queue",
        "stream-failures",
        "--reconciler-namespace",
        "AttendeeCounter/Reconciler",
    )

    assert code == 0, err
    assert runbook_links(clients) == {key: f"{DOCS}/{key}.md" for key in ALARM_KEYS}


def test_a_runbook_url_template_from_the_environment_links_every_alarm_there(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"RECONCILER_RUNBOOK_URL_TEMPLATE": "https://wiki.example.com/oncall/{name}"}

    code, _, err = alarms_cli(capsys, "apply", env=env)

    assert code == 0, err
    links = runbook_links(clients)
    assert links == {key: f"https://wiki.example.com/oncall/{key}" for key in HANDLER_KEYS}


def test_a_changed_runbook_url_template_updates_every_description(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    alarms_cli(capsys, "apply")
    template = ("--runbook-url-template", "https://wiki.example.com/oncall/{name}")

    plan = plan_json(capsys, *template)
    code, out, _ = alarms_cli(capsys, "apply", *template)

    assert set(plan["update"]) == HANDLER_ALARMS
    assert code == 0
    assert f"update     {PREFIX}-handler-errors-sum-critical (description)" in out
    links = runbook_links(clients)
    assert links == {key: f"https://wiki.example.com/oncall/{key}" for key in HANDLER_KEYS}


def test_a_relative_runbook_url_template_exits_2_naming_the_flag(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = alarms_cli(capsys, "plan", "--runbook-url-template", "README.md#{name}")

    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "--runbook-url-template: must be an absolute http(s) URL" in err
    assert described(clients) == {}


def test_alarms_are_tagged_as_owned_by_the_tool_and_the_prefix(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    alarms_cli(capsys, "apply")

    cloudwatch = clients.cloudwatch()
    for alarm in described(clients).values():
        tags = cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]
        assert {"Key": "ManagedBy", "Value": OWNER_CLI} in tags
        assert {"Key": "AlarmPrefix", "Value": PREFIX} in tags


def test_second_apply_changes_nothing(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    alarms_cli(capsys, "apply")
    before = described(clients)

    code, out, _ = alarms_cli(capsys, "apply")

    assert code == 0
    assert "apply: 0 changes" in out
    plan = plan_json(capsys)
    assert plan["create"] == plan["update"] == plan["delete"] == []
    assert set(plan["unchanged"]) == HANDLER_ALARMS
    assert described(clients).keys() == before.keys()


def test_plan_json_prints_one_object_and_writes_nothing(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    plan = plan_json(capsys)

    assert set(plan) == {"create", "update", "delete", "unchanged"}
    assert set(plan["create"]) == HANDLER_ALARMS
    assert plan["update"] == plan["delete"] == plan["unchanged"] == []
    assert described(clients) == {}
    assert clients.sns().list_topics()["Topics"] == []


def test_changed_threshold_is_an_update(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    alarms_cli(capsys, "apply")

    plan = plan_json(capsys, "--threshold", "handler-iterator-age=300")
    code, out, _ = alarms_cli(capsys, "apply", "--threshold", "handler-iterator-age=300")

    age = f"{PREFIX}-handler-iterator-age-maximum-critical"
    assert plan["update"] == [age]
    assert plan["create"] == plan["delete"] == []
    assert code == 0
    assert f"update     {age} (threshold)" in out
    assert described(clients)[age]["Threshold"] == 300_000.0


def test_disabled_alarm_is_pruned(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    alarms_cli(capsys, "apply")

    code, _, _ = alarms_cli(capsys, "apply", "--disable", "handler-throttles")

    assert code == 0
    assert set(described(clients)) == HANDLER_ALARMS - {f"{PREFIX}-handler-throttles-sum-warning"}


def test_alarm_with_our_prefix_not_owned_by_us_is_left_alone(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    cloudwatch = clients.cloudwatch()
    cloudwatch.put_metric_alarm(
        AlarmName=f"{PREFIX}-handand-made",
        MetricName="Errors",
        Namespace="AWS/Lambda",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=5,
        ComparisonOperator="GreaterThanThreshold",
    )
    # Same tool, other deployment whose prefix starts with ours: not ours either.
    cloudwatch.put_metric_alarm(
        AlarmName=f"{PREFIX}-staging-handler-errors-sum-critical",
        MetricName="Errors",
        Namespace="AWS/Lambda",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=0,
        ComparisonOperator="GreaterThanThreshold",
        Tags=[
            {"Key": "ManagedBy", "Value": OWNER_CLI},
            {"Key": "AlarmPrefix", "Value": f"{PREFIX}-staging"},
        ],
    )

    alarms_cli(capsys, "apply")
    code, out, _ = alarms_cli(capsys, "destroy")

    assert code == 0
    assert "destroy: 6 changes" in out
    assert set(described(clients)) == {
        f"{PREFIX}-handand-made",
        f"{PREFIX}-staging-handler-errors-sum-critical",
    }


def test_apply_refuses_to_overwrite_an_alarm_it_does_not_own(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    name = f"{PREFIX}-handler-errors-sum-critical"
    clients.cloudwatch().put_metric_alarm(
        AlarmName=name,
        MetricName="Errors",
        Namespace="AWS/Lambda",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=99,
        ComparisonOperator="GreaterThanThreshold",
    )

    code, _, err = alarms_cli(capsys, "apply")

    assert code == 1
    assert "not tagged as ours" in err
    assert name in err
    assert described(clients)[name]["Threshold"] == 99.0
    assert set(described(clients)) == {name}


def test_unknown_function_name_gives_a_clear_error(
    clients: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = alarms_cli(capsys, "apply", "--function-name", "noSuchFunction")

    assert code == 1
    assert "Lambda function 'noSuchFunction' not found" in err
    assert "--function-name" in err
    assert out == ""
    assert described(clients) == {}


def test_on_failure_queue_and_reconciler_namespace_add_their_alarms(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    create_queue(clients, "stream-failures")

    code, _, err = alarms_cli(
        capsys,
        "apply",
        "--on-failure-queue",
        "stream-failures",
        "--reconciler-namespace",
        "AttendeeCounter/Reconciler",
    )

    assert code == 0, err
    alarms = described(clients)
    assert set(alarms) == HANDLER_ALARMS | {QUEUE_ALARM} | RECONCILER_ALARMS
    queue = alarms[QUEUE_ALARM]
    assert (queue["Namespace"], queue["MetricName"]) == (
        "AWS/SQS",
        "ApproximateNumberOfMessagesVisible",
    )
    assert queue["Dimensions"] == [{"Name": "QueueName", "Value": "stream-failures"}]
    failed = alarms[f"{PREFIX}-reconciler-failed-passes-sum-critical"]
    assert (failed["Namespace"], failed["MetricName"]) == (
        "AttendeeCounter/Reconciler",
        "FailedPasses",
    )
    assert failed["TreatMissingData"] == "breaching"
    assert failed["Dimensions"] == []


def test_missing_on_failure_queue_is_a_clear_error(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = alarms_cli(capsys, "plan", "--on-failure-queue", "no-such-queue")

    assert code == 1
    assert "SQS queue 'no-such-queue' does not exist" in err


def test_existing_topic_is_reused_by_arn_and_subscriptions_are_added_once(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    arn = topic_arn(clients, "ops-pager")
    queue_arn = create_queue(clients, "alarm-inbox")
    args = ("--topic-arn", arn, "--email", "oncall@example.com", "--sqs-subscription", queue_arn)

    alarms_cli(capsys, "apply", *args)
    code, out, err = alarms_cli(capsys, "apply", *args)

    assert code == 0
    subscriptions = clients.sns().list_subscriptions_by_topic(TopicArn=arn)["Subscriptions"]
    assert sorted(s["Protocol"] for s in subscriptions) == ["email", "sqs"]
    assert all(a["AlarmActions"] == [arn] for a in described(clients).values())
    assert [t["TopicArn"] for t in clients.sns().list_topics()["Topics"]] == [arn]
    assert "oncall@example.com" not in out + err


def test_unknown_topic_arn_is_a_clear_error(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = "arn:aws:sns:us-east-1:123456789012:nobody"

    code, _, err = alarms_cli(capsys, "apply", "--topic-arn", missing)

    assert code == 1
    assert f"SNS topic {missing!r} does not exist" in err


def test_plan_predicts_the_topic_arn_apply_will_create(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = alarms_cli(capsys, "plan")
    alarms_cli(capsys, "apply")

    assert code == 0
    assert f"topic      {topic_arn(clients)} (will be created by apply)" in out


def test_config_file_sets_thresholds_and_flags_win_over_it(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str], tmp_path: Any
) -> None:
    config = tmp_path / "alarms.toml"
    config.write_text(
        "[alarms.handler-iterator-age]\nthreshold = 600\nperiod = 120\n"
        "[alarms.handler-errors]\nthreshold = 2\n"
        "[alarms.handler-malformed-records]\nenabled = false\n"
    )

    code, _, err = alarms_cli(
        capsys, "apply", "--config", str(config), "--threshold", "handler-errors=5"
    )

    assert code == 0, err
    alarms = described(clients)
    age = alarms[f"{PREFIX}-handler-iterator-age-maximum-critical"]
    assert (age["Threshold"], age["Period"]) == (600_000.0, 120)
    assert alarms[f"{PREFIX}-handler-errors-sum-critical"]["Threshold"] == 5.0
    assert f"{PREFIX}-handler-malformed-records-sum-warning" not in alarms


def test_invalid_setting_exits_2_with_one_line_naming_it(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = alarms_cli(capsys, "plan", "--threshold", "handler-typo=3")

    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "--threshold" in err
    assert "handler-typo" in err


def test_no_aws_region_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")

    code = main(["alarms", "plan", "--function-name", "updateAttendeeCounter"], env={})

    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "AWS_REGION" in err
