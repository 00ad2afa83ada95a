"""``reconciler alarms plan|apply|destroy`` against a moto server, through the real CLI: the
alarms apply creates and their settings, an idempotent second apply, plans that write
nothing, updates and pruning, the optional queue and reconciler alarms, the topic and its
subscriptions, the config file, and ownership (only alarms tagged as ours are touched)."""

from __future__ import annotations

import json
from typing import Any

import pytest

from alarms.render import OWNER_CLI
from tests.integration.alarms_cli_support import (
    DOCS,
    FUNCTION,
    HANDLER_ALARMS,
    PREFIX,
    QUEUE_ALARM,
    RECONCILER_ALARMS,
    alarms_cli,
    apply_with_every_source,
    deploy_handler,
    described,
    plan_json,
    topic_arn,
)
from tests.integration.deployed_world import create_queue

handler = pytest.fixture(deploy_handler)


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


def test_plan_predicts_the_topic_arn_apply_will_create(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = alarms_cli(capsys, "plan")
    alarms_cli(capsys, "apply")

    assert code == 0
    assert f"topic      {topic_arn(clients)} (will be created by apply)" in out


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
    assert "apply: 1 change (0 created, 1 updated" in out  # one change, not "1 changes"
    assert described(clients)[age]["Threshold"] == 300_000.0


def test_disabled_alarm_is_pruned(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    alarms_cli(capsys, "apply")

    code, _, _ = alarms_cli(capsys, "apply", "--disable", "handler-throttles")

    assert code == 0
    assert set(described(clients)) == HANDLER_ALARMS - {f"{PREFIX}-handler-throttles-sum-warning"}


def test_on_failure_queue_and_reconciler_namespace_add_their_alarms(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = apply_with_every_source(clients, capsys)

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


def put_errors_alarm(
    clients: Any, name: str, *, threshold: float, tags: list[dict[str, str]] | None = None
) -> None:
    """An alarm on the handler's errors made outside this deployment's ``apply``: by hand, or
    (tagged) by the tool for another deployment."""
    tagged = {"Tags": tags} if tags is not None else {}
    clients.cloudwatch().put_metric_alarm(
        AlarmName=name,
        MetricName="Errors",
        Namespace="AWS/Lambda",
        Statistic="Sum",
        Period=60,
        EvaluationPeriods=1,
        Threshold=threshold,
        ComparisonOperator="GreaterThanThreshold",
        **tagged,
    )


def test_alarm_with_our_prefix_not_owned_by_us_is_left_alone(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    put_errors_alarm(clients, f"{PREFIX}-handand-made", threshold=5)
    # Same tool, other deployment whose prefix starts with ours: not ours either.
    put_errors_alarm(
        clients,
        f"{PREFIX}-staging-handler-errors-sum-critical",
        threshold=0,
        tags=[
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
    put_errors_alarm(clients, name, threshold=99)

    code, _, err = alarms_cli(capsys, "apply")

    assert code == 1
    assert "not tagged as ours" in err
    assert name in err
    assert described(clients)[name]["Threshold"] == 99.0
    assert set(described(clients)) == {name}


def test_piped_plan_output_is_one_json_document_without_asking(
    handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, _ = alarms_cli(capsys, "plan", terminal=False)

    assert code == 0
    assert set(json.loads(out)["create"]) == HANDLER_ALARMS  # all of stdout, nothing else
