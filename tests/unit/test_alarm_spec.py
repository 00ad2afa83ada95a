"""The alarm specification: the defaults issue 5 lists, the factories that state them, tuning,
naming, runbook links and validation."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from alarms import spec as s
from alarms.factories import LAMBDA_METRICS, QUEUE_DEPTH
from alarms.render import KEY_TAG, MAX_DESCRIPTION_LENGTH, OWNER_CDK, is_owned, render
from reconciler.kernel.errors import ConfigError

BASE = s.SpecParameters(function_name="updateAttendeeCounter", timeout_seconds=60)
DOCS = "https://github.com/attendee-counter/reconciler/blob/main/docs/runbooks"


def specs(**overrides: Any) -> dict[str, s.AlarmSpec]:
    return {spec.key: spec for spec in s.build_specs(replace(BASE, **overrides))}


def test_defaults_are_the_six_handler_alarms_without_queue_or_namespace() -> None:
    assert list(specs()) == [
        s.HANDLER_ERRORS,
        s.HANDLER_DURATION,
        s.HANDLER_THROTTLES,
        s.HANDLER_ITERATOR_AGE,
        s.HANDLER_PARTIAL_BATCH_FAILURES,
        s.HANDLER_MALFORMED_RECORDS,
    ]


def test_errors_alarm_is_sum_over_60_s_3_of_3_above_zero() -> None:
    errors = specs()[s.HANDLER_ERRORS]
    assert (errors.namespace, errors.metric, errors.statistic) == ("AWS/Lambda", "Errors", "Sum")
    assert (errors.period_seconds, errors.evaluation_periods, errors.datapoints_to_alarm) == (
        60,
        3,
        3,
    )
    assert (errors.comparison, errors.threshold) == ("GreaterThanThreshold", 0)


def test_duration_alarm_is_p90_above_80_percent_of_the_timeout_in_milliseconds() -> None:
    duration = specs(timeout_seconds=30)[s.HANDLER_DURATION]
    assert duration.extended_statistic == "p90"
    assert duration.statistic is None
    assert duration.threshold == 24_000
    assert (duration.evaluation_periods, duration.datapoints_to_alarm) == (15, 15)


def test_throttles_alarm_fires_at_one_or_more_for_5_of_5_minutes() -> None:
    throttles = specs()[s.HANDLER_THROTTLES]
    assert (throttles.comparison, throttles.threshold) == ("GreaterThanOrEqualToThreshold", 1)
    assert (throttles.evaluation_periods, throttles.datapoints_to_alarm) == (5, 5)


def test_iterator_age_threshold_is_configured_in_seconds_and_sent_in_milliseconds() -> None:
    age = specs(tuning={s.HANDLER_ITERATOR_AGE: s.Tuning(threshold=300)})[s.HANDLER_ITERATOR_AGE]
    assert (age.statistic, age.threshold) == ("Maximum", 300_000)
    assert specs()[s.HANDLER_ITERATOR_AGE].threshold == 120_000


def test_handler_emf_alarms_use_the_handlers_namespace_and_metric_names() -> None:
    built = specs(handler_namespace="Custom/Handler")
    assert built[s.HANDLER_PARTIAL_BATCH_FAILURES].metric == "PartialBatchFailures"
    assert built[s.HANDLER_MALFORMED_RECORDS].metric == "MalformedRecords"
    assert built[s.HANDLER_MALFORMED_RECORDS].namespace == "Custom/Handler"
    assert built[s.HANDLER_MALFORMED_RECORDS].dimensions == (
        ("FunctionName", "updateAttendeeCounter"),
    )


def test_queue_alarm_exists_only_with_an_on_failure_queue() -> None:
    queue = specs(on_failure_queue_name="failures")[s.ON_FAILURE_QUEUE_DEPTH]
    assert (queue.namespace, queue.metric) == ("AWS/SQS", "ApproximateNumberOfMessagesVisible")
    assert queue.dimensions == (("QueueName", "failures"),)
    assert s.ON_FAILURE_QUEUE_DEPTH not in specs()


def test_reconciler_alarms_exist_only_with_a_namespace_and_watch_published_metrics() -> None:
    built = specs(reconciler_namespace="AttendeeCounter/Reconciler")
    assert built[s.RECONCILER_DRIFT].metric == "Drifted"
    assert built[s.RECONCILER_FAILED_PASSES].metric == "FailedPasses"
    assert built[s.RECONCILER_FAILED_PASSES].treat_missing_data == "breaching"
    assert s.RECONCILER_DRIFT not in specs()


def test_every_alarm_has_a_description_a_runbook_page_and_a_deliberate_missing_data_choice() -> (
    None
):
    everything = specs(on_failure_queue_name="q", reconciler_namespace="NS")
    assert set(everything) == set(s.ALARM_KEYS)
    for spec in everything.values():
        assert spec.description
        assert spec.runbook_url() == f"{DOCS}/{spec.key}.md"
        assert spec.treat_missing_data in {"breaching", "notBreaching", "ignore", "missing"}


def test_the_ten_alarms_are_exactly_the_published_ones() -> None:
    everything = specs(on_failure_queue_name="q", reconciler_namespace="NS")
    described = [
        f"{spec.name('ac')}: {spec.namespace} {spec.metric} "
        f"{spec.statistic or spec.extended_statistic} per {spec.period_seconds} s, "
        f"{spec.datapoints_to_alarm} of {spec.evaluation_periods} {spec.comparison} "
        f"{spec.threshold:g}, missing {spec.treat_missing_data}"
        for spec in everything.values()
    ]
    assert described == [
        "ac-handler-errors-sum-critical: AWS/Lambda Errors Sum per 60 s, "
        "3 of 3 GreaterThanThreshold 0, missing notBreaching",
        "ac-handler-duration-p90-warning: AWS/Lambda Duration p90 per 60 s, "
        "15 of 15 GreaterThanThreshold 48000, missing notBreaching",
        "ac-handler-throttles-sum-warning: AWS/Lambda Throttles Sum per 60 s, "
        "5 of 5 GreaterThanOrEqualToThreshold 1, missing notBreaching",
        "ac-handler-iterator-age-maximum-critical: AWS/Lambda IteratorAge Maximum per 60 s, "
        "5 of 5 GreaterThanThreshold 120000, missing ignore",
        "ac-handler-partial-batch-failures-sum-warning: AttendeeCounter/Handler "
        "PartialBatchFailures Sum per 60 s, 3 of 5 GreaterThanThreshold 0, missing notBreaching",
        "ac-handler-malformed-records-sum-warning: AttendeeCounter/Handler "
        "MalformedRecords Sum per 300 s, 1 of 1 GreaterThanThreshold 0, missing notBreaching",
        "ac-on-failure-queue-approximate-number-of-messages-visible-maximum-critical: AWS/SQS "
        "ApproximateNumberOfMessagesVisible Maximum per 300 s, "
        "1 of 1 GreaterThanThreshold 0, missing notBreaching",
        "ac-reconciler-drifted-sum-warning: NS Drifted Sum per 3600 s, "
        "1 of 1 GreaterThanThreshold 10, missing notBreaching",
        "ac-reconciler-failed-passes-sum-critical: NS FailedPasses Sum per 900 s, "
        "2 of 2 GreaterThanOrEqualToThreshold 1, missing breaching",
        "ac-reconciler-replay-kept-messages-maximum-warning: NS ReplayKeptMessages Maximum "
        "per 900 s, 2 of 2 GreaterThanThreshold 0, missing notBreaching",
    ]


def test_a_factory_gives_each_alarm_its_kinds_defaults_and_only_the_stated_overrides() -> None:
    plain = LAMBDA_METRICS.alarm(
        "k", "Errors", severity="warning", threshold=0, threshold_means="x", description="d"
    )
    assert (plain.source, plain.resource, plain.statistic, plain.extended_statistic) == (
        "lambda",
        "handler",
        "Sum",
        None,
    )
    assert (plain.period_seconds, plain.evaluation_periods, plain.datapoints_to_alarm) == (60, 1, 1)
    assert (plain.comparison, plain.treat_missing_data) == ("GreaterThanThreshold", "notBreaching")
    tuned = QUEUE_DEPTH.alarm(
        "k",
        "M",
        severity="critical",
        threshold=0,
        threshold_means="x",
        description="d",
        percentile="p99",
        evaluation_periods=4,
        treat_missing_data="breaching",
    )
    assert (tuned.statistic, tuned.extended_statistic) == (None, "p99")
    assert (tuned.period_seconds, tuned.evaluation_periods, tuned.datapoints_to_alarm) == (
        300,
        4,
        4,
    )
    assert tuned.treat_missing_data == "breaching"


def test_threshold_units_explain_every_alarm_for_the_help_text() -> None:
    assert list(s.THRESHOLD_UNITS) == list(s.ALARM_KEYS)
    assert s.THRESHOLD_UNITS[s.HANDLER_DURATION] == "percent of the function's timeout"
    assert s.THRESHOLD_UNITS[s.HANDLER_ITERATOR_AGE] == "seconds"


def test_names_follow_prefix_resource_metric_statistic_severity() -> None:
    built = specs(on_failure_queue_name="q")
    assert built[s.HANDLER_DURATION].name("ac") == "ac-handler-duration-p90-warning"
    assert built[s.HANDLER_ITERATOR_AGE].name("ac") == "ac-handler-iterator-age-maximum-critical"
    assert built[s.ON_FAILURE_QUEUE_DEPTH].name("x") == (
        "x-on-failure-queue-approximate-number-of-messages-visible-maximum-critical"
    )


def test_disabled_alarms_are_left_out() -> None:
    assert s.HANDLER_THROTTLES not in specs(disabled=frozenset({s.HANDLER_THROTTLES}))


def test_tuning_evaluation_periods_alone_keeps_datapoints_within_them() -> None:
    errors = specs(tuning={s.HANDLER_ERRORS: s.Tuning(evaluation_periods=2)})[s.HANDLER_ERRORS]
    assert (errors.evaluation_periods, errors.datapoints_to_alarm) == (2, 2)


@pytest.mark.parametrize(
    ("tuning", "setting"),
    [
        (s.Tuning(period_seconds=45), "alarms.handler-errors.period"),
        (s.Tuning(datapoints_to_alarm=4), "alarms.handler-errors.datapoints_to_alarm"),
        (s.Tuning(period_seconds=3600, evaluation_periods=25), "evaluation_periods"),
    ],
)
def test_impossible_alarm_settings_are_config_errors_naming_the_setting(
    tuning: s.Tuning, setting: str
) -> None:
    with pytest.raises(ConfigError, match=setting):
        specs(tuning={s.HANDLER_ERRORS: tuning})


def test_duration_percent_above_100_could_never_fire_and_is_rejected() -> None:
    with pytest.raises(ConfigError, match=r"alarms.handler-duration.threshold"):
        specs(tuning={s.HANDLER_DURATION: s.Tuning(threshold=120)})


def test_unknown_alarm_key_is_rejected() -> None:
    with pytest.raises(ConfigError, match="is not an alarm"):
        specs(disabled=frozenset({"handler-typo"}))


def test_spec_needs_exactly_one_kind_of_statistic() -> None:
    errors = specs()[s.HANDLER_ERRORS]
    with pytest.raises(ValueError, match="exactly one"):
        replace(errors, extended_statistic="p99")


def test_kebab_case_of_metric_names() -> None:
    assert s.kebab("IteratorAge") == "iterator-age"
    assert s.kebab("Errors") == "errors"


def test_rendered_alarms_notify_the_topic_on_alarm_and_ok_and_carry_ownership() -> None:
    definitions = render(list(specs().values()), prefix="ac", topic_arn="arn:t")
    for definition in definitions:
        assert definition.alarm_actions == definition.ok_actions == ("arn:t",)
        assert is_owned(definition.tag_map, "ac")
        assert not is_owned(definition.tag_map, "ac-staging")
        assert not is_owned(definition.tag_map, "ac", owner=OWNER_CDK)
        key = definition.tag_map[KEY_TAG]
        assert definition.description.endswith(f" Runbook: {DOCS}/{key}.md")
        assert "README.md" not in definition.description


def test_rendered_descriptions_link_the_runbook_of_a_custom_template() -> None:
    template = "https://wiki.example.com/ops/{name}?from=alarm"
    everything = list(specs(on_failure_queue_name="q", reconciler_namespace="NS").values())
    for definition in render(everything, prefix="ac", topic_arn="t", runbook_url_template=template):
        key = definition.tag_map[KEY_TAG]
        assert definition.description.endswith(
            f" Runbook: https://wiki.example.com/ops/{key}?from=alarm"
        )


def test_a_description_too_long_for_cloudwatch_loses_prose_never_the_runbook_link() -> None:
    wordy = replace(specs()[s.HANDLER_ERRORS], description="word " * 400)
    (definition,) = render([wordy], prefix="ac", topic_arn="t")
    assert len(definition.description) == MAX_DESCRIPTION_LENGTH
    assert definition.description.endswith(f" Runbook: {DOCS}/handler-errors.md")
