"""Alarm settings: flags over env over the TOML file over defaults, and clear errors."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from alarms.config import AlarmSettings, load_alarm_settings, parse_alarm_settings, read_config_file
from alarms.spec import HANDLER_ERRORS, HANDLER_ITERATOR_AGE, HANDLER_THROTTLES, Tuning
from reconciler.kernel.errors import ConfigError
from reconciler.kernel.settings import Source


def settings(
    flags: dict[str, Any] | None = None, env: dict[str, str] | None = None, **doc: Any
) -> AlarmSettings:
    return parse_alarm_settings(Source(flags or {}, env or {}), doc, "alarms.toml")


def test_defaults_follow_the_deployed_system() -> None:
    result = settings()
    assert result.prefix == "attendee-counter"
    assert result.function_name == "updateAttendeeCounter"
    assert result.function_timeout_seconds is None
    assert result.topic_name == "attendee-counter-alarms"
    assert result.topic_arn is None
    assert result.handler_namespace == "AttendeeCounter/Handler"
    assert result.on_failure_queue is None
    assert result.reconciler_namespace is None
    assert result.runbook_url_template == (
        "https://github.com/attendee-counter/reconciler/blob/main/docs/runbooks/{name}.md"
    )


def test_flag_wins_over_env_which_wins_over_file() -> None:
    assert (
        settings({"prefix": "flag"}, {"RECONCILER_PREFIX": "env"}, prefix="file").prefix == "flag"
    )
    assert settings({}, {"RECONCILER_PREFIX": "env"}, prefix="file").prefix == "env"
    assert settings({}, {}, prefix="file").prefix == "file"


def test_per_alarm_values_merge_flags_over_the_file_per_field() -> None:
    result = settings(
        {"threshold": ["handler-errors=3"]},
        alarms={
            HANDLER_ERRORS: {"threshold": 1, "period": 120},
            HANDLER_THROTTLES: {"enabled": False},
        },
    )
    assert result.tuning[HANDLER_ERRORS] == Tuning(threshold=3.0, period_seconds=120)
    assert result.disabled == frozenset({HANDLER_THROTTLES})


def test_env_lists_are_comma_separated() -> None:
    result = settings(
        {},
        {
            "RECONCILER_THRESHOLD": "handler-errors=2,handler-iterator-age=300",
            "RECONCILER_DISABLE": "handler-throttles",
        },
    )
    assert result.tuning[HANDLER_ITERATOR_AGE].threshold == 300.0
    assert result.tuning[HANDLER_ERRORS].threshold == 2.0
    assert HANDLER_THROTTLES in result.disabled


def test_runbook_url_template_comes_from_flag_env_or_file_in_that_order() -> None:
    flag, env, file = (f"https://{where}.example.com/runbooks/{{name}}" for where in "abc")
    env_vars = {"RECONCILER_RUNBOOK_URL_TEMPLATE": env}
    assert settings({"runbook_url_template": flag}, env_vars).runbook_url_template == flag
    assert settings({}, env_vars, runbook_url_template=file).runbook_url_template == env
    assert settings({}, {}, runbook_url_template=file).runbook_url_template == file


@pytest.mark.parametrize(
    ("template", "problem"),
    [
        ("README.md#runbook-{name}", "absolute http(s) URL"),
        ("/docs/runbooks/{name}.md", "absolute http(s) URL"),
        ("ftp://files.example.com/{name}", "absolute http(s) URL"),
        ("https://wiki.example.com/runbook {name}", "absolute http(s) URL"),
        ("https://wiki.example.com/runbooks/", "must contain {name}"),
        ("https://wiki.example.com/" + "x" * 600 + "/{name}", "at most 512 characters"),
    ],
)
def test_a_runbook_url_template_must_be_an_absolute_url_with_the_alarm_key(
    template: str, problem: str
) -> None:
    with pytest.raises(ConfigError) as info:
        settings({}, {"RECONCILER_RUNBOOK_URL_TEMPLATE": template})
    assert str(info.value).startswith("RECONCILER_RUNBOOK_URL_TEMPLATE: ")
    assert problem in str(info.value)


def test_a_bad_runbook_url_template_in_the_file_names_its_key() -> None:
    with pytest.raises(ConfigError, match=r"^alarms.toml: runbook_url_template: must contain"):
        settings(runbook_url_template="https://wiki.example.com/runbooks")


def test_the_deprecated_runbook_url_still_links_an_anchor_per_alarm_on_that_page() -> None:
    page = "https://wiki.example.com/attendee-counter"
    assert settings({"runbook_url": page}).runbook_url_template == f"{page}#runbook-{{name}}"
    with pytest.raises(ConfigError, match="--runbook-url: must be an absolute"):
        settings({"runbook_url": "README.md"})
    with pytest.raises(ConfigError, match="--runbook-url-template / --runbook-url"):
        settings({"runbook_url": page, "runbook_url_template": f"{page}/{{name}}"})


def test_topic_arn_replaces_the_default_topic_name() -> None:
    arn = "arn:aws:sns:eu-west-1:123456789012:pager"
    result = settings({"topic_arn": arn})
    assert (result.topic_arn, result.topic_name) == (arn, None)


def test_topic_arn_and_name_together_are_rejected() -> None:
    with pytest.raises(ConfigError, match="--topic-arn / --topic-name"):
        settings({"topic_arn": "arn:aws:sns:us-east-1:123456789012:a", "topic_name": "b"})


def test_on_failure_queue_accepts_an_arn_or_url_and_keeps_the_name() -> None:
    arn = "arn:aws:sqs:us-east-1:123456789012:failures"
    url = "https://sqs.us-east-1.amazonaws.com/123456789012/failures"
    assert settings({"on_failure_queue": arn}).on_failure_queue == "failures"
    assert settings({"on_failure_queue": url}).on_failure_queue == "failures"


@pytest.mark.parametrize(
    ("flags", "doc", "named"),
    [
        ({"function_timeout": "0"}, {}, "--function-timeout"),
        ({"function_name": "has spaces"}, {}, "--function-name"),
        ({"prefix": "-bad"}, {}, "--prefix"),
        ({"reconciler_namespace": "AWS/Lambda"}, {}, "--reconciler-namespace"),
        ({"threshold": ["handler-errors"]}, {}, "--threshold"),
        ({"threshold": ["handler-errors=-1"]}, {}, "--threshold"),
        ({"period": ["handler-errors=soon"]}, {}, "--period"),
        ({"disable": ["nope"]}, {}, "--disable"),
        ({}, {"threshold_of_errors": 3}, "alarms.toml: threshold_of_errors"),
        ({}, {"alarms": {"handler-errors": {"treshold": 3}}}, "handler-errors.treshold"),
        ({}, {"alarms": {"handler-errors": {"enabled": "no"}}}, "handler-errors.enabled"),
        ({}, {"alarms": {"handler-errors": {"period": 1.5}}}, "handler-errors.period"),
        ({}, {"alarms": {"handler-errors": {"threshold": True}}}, "handler-errors.threshold"),
        ({}, {"alarms": {"handler-errors": {"threshold": "inf"}}}, "handler-errors.threshold"),
        ({}, {"alarms": {"handler-errors": {"evaluation_periods": 0}}}, "evaluation_periods"),
        ({}, {"alarms": "handler-errors"}, "alarms.toml: alarms"),
        ({}, {"prefix": ["a", "b"]}, "alarms.toml: prefix"),
        ({}, {"function_timeout": "soon"}, "alarms.toml: function_timeout"),
        ({}, {"alarms": {"unknown-alarm": {}}}, "alarms.unknown-alarm"),
    ],
)
def test_invalid_settings_name_the_setting(
    flags: dict[str, Any], doc: dict[str, Any], named: str
) -> None:
    with pytest.raises(ConfigError) as info:
        settings(flags, **doc)
    assert named in str(info.value)


def test_file_values_may_be_whole_numbers_or_arrays() -> None:
    result = settings(
        function_timeout=30,
        email=["a@example.com", "b@example.com,a@example.com"],
        alarms={HANDLER_ERRORS: {"period": 120.0, "evaluation_periods": 2}},
    )
    assert result.function_timeout_seconds == 30
    assert result.email_subscriptions == ("a@example.com", "b@example.com")
    assert result.tuning[HANDLER_ERRORS] == Tuning(period_seconds=120, evaluation_periods=2)


def test_invalid_email_is_rejected_without_echoing_the_address() -> None:
    with pytest.raises(ConfigError) as info:
        settings({"email": ["not-an-address-of-jane"]})
    assert "jane" not in str(info.value)


def test_toml_file_is_read_from_the_config_flag(tmp_path: Path) -> None:
    path = tmp_path / "alarms.toml"
    path.write_text('prefix = "from-file"\n[alarms.handler-errors]\nthreshold = 4\n')
    result = load_alarm_settings(Source({"config": str(path)}, {}))
    assert result.prefix == "from-file"
    assert result.tuning[HANDLER_ERRORS].threshold == 4.0


def test_config_file_path_also_comes_from_the_environment(tmp_path: Path) -> None:
    path = tmp_path / "alarms.toml"
    path.write_text('function_name = "otherHandler"\n')
    result = load_alarm_settings(Source({}, {"RECONCILER_ALARMS_CONFIG": str(path)}))
    assert result.function_name == "otherHandler"


def test_missing_or_broken_toml_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="file not found"):
        read_config_file(str(tmp_path / "absent.toml"))
    broken = tmp_path / "broken.toml"
    broken.write_text("prefix = \n")
    with pytest.raises(ConfigError, match="not valid TOML"):
        read_config_file(str(broken))
