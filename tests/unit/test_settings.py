from __future__ import annotations

import pytest

from reconciler.kernel.errors import ConfigError
from reconciler.kernel.settings import (
    Source,
    parse_duration,
    parse_log_settings,
    parse_table_settings,
)


def test_flags_win_over_environment():
    source = Source({"settle_seconds": "30"}, {"RECONCILER_SETTLE_SECONDS": "90"})
    assert source.integer("--settle-seconds", 120) == 30


def test_environment_is_used_when_no_flag_is_given():
    source = Source({"settle_seconds": None}, {"RECONCILER_SETTLE_SECONDS": "90"})
    assert source.integer("--settle-seconds", 120) == 90


def test_default_is_used_when_neither_is_given():
    assert Source({}, {}).integer("--settle-seconds", 120) == 120


def test_invalid_integer_names_the_setting():
    source = Source({}, {"RECONCILER_CONCURRENCY": "many"})
    with pytest.raises(ConfigError) as info:
        source.integer("--concurrency", 4, minimum=1)
    assert "RECONCILER_CONCURRENCY" in str(info.value)
    assert "many" in str(info.value)


def test_out_of_range_value_names_the_flag():
    source = Source({"concurrency": 0}, {})
    with pytest.raises(ConfigError, match="--concurrency: must be at least 1"):
        source.integer("--concurrency", 4, minimum=1)


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("90", 90.0), ("90s", 90.0), ("5m", 300.0), ("1.5h", 5400.0), ("250ms", 0.25)],
)
def test_durations_accept_common_units(text: str, seconds: float):
    assert parse_duration(text, "--every") == seconds


@pytest.mark.parametrize("text", ["", "five minutes", "-5m", "5 parsecs"])
def test_bad_durations_are_rejected(text: str):
    with pytest.raises(ConfigError, match="--every"):
        parse_duration(text, "--every")


def test_nan_is_not_a_number():
    with pytest.raises(ConfigError, match="NaN"):
        Source({"ratio": "nan"}, {}).number("--ratio", 0.1)


def test_booleans_accept_words_and_reject_nonsense():
    assert Source({}, {"RECONCILER_DRY_RUN": "yes"}).boolean("--dry-run", False) is True
    with pytest.raises(ConfigError, match="RECONCILER_DRY_RUN"):
        Source({}, {"RECONCILER_DRY_RUN": "perhaps"}).boolean("--dry-run", False)


def test_table_name_is_required_and_comes_from_table_name_env():
    with pytest.raises(ConfigError, match="TABLE_NAME"):
        parse_table_settings(Source({}, {}))
    settings = parse_table_settings(Source({}, {"TABLE_NAME": "registrations"}))
    assert settings.table_name == "registrations"
    assert settings.model.event_partitions == ("FAD", "EVENT")


def test_table_layout_is_configurable():
    env = {
        "TABLE_NAME": "t",
        "RECONCILER_EVENT_PARTITIONS": "CONF, TALK",
        "RECONCILER_COUNTER_ATTRIBUTE": "seats",
    }
    model = parse_table_settings(Source({}, env)).model
    assert model.event_partitions == ("CONF", "TALK")
    assert model.counter_attr == "seats"


@pytest.mark.parametrize(
    ("env", "setting"),
    [
        ({"RECONCILER_COUNTER_ATTRIBUTE": "counterVersion"}, "--counter-attribute"),
        ({"RECONCILER_ATTENDEE_SUFFIX": "ATTENDEE"}, "RECONCILER_ATTENDEE_SUFFIX"),
        ({"RECONCILER_PK_ATTRIBUTE": "bad name!"}, "RECONCILER_PK_ATTRIBUTE"),
        ({"RECONCILER_EVENT_PARTITIONS": " , "}, "RECONCILER_EVENT_PARTITIONS"),
    ],
)
def test_inconsistent_table_layout_fails_fast(env: dict[str, str], setting: str):
    with pytest.raises(ConfigError) as info:
        parse_table_settings(Source({}, {"TABLE_NAME": "t", **env}))
    assert setting in str(info.value)


def test_log_settings_validate_their_choices():
    assert parse_log_settings(Source({}, {})).format == "auto"
    with pytest.raises(ConfigError, match="--log-format"):
        parse_log_settings(Source({"log_format": "xml"}, {}))
