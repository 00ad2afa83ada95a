from __future__ import annotations

from pathlib import Path

import pytest

from reconciler.kernel.errors import ConfigError
from reconciler.kernel.settings import (
    Source,
    parse_duration,
    parse_log_settings,
    parse_number,
    parse_table_settings,
    read_toml_file,
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


def test_a_file_layer_sits_below_flags_and_environment_and_above_defaults():
    file = {"settle_seconds": 60}
    assert Source({}, {}).with_file(file, "f.toml").integer("--settle-seconds", 120) == 60
    env = {"RECONCILER_SETTLE_SECONDS": "90"}
    assert Source({}, env).with_file(file, "f.toml").integer("--settle-seconds", 120) == 90
    flags = {"settle_seconds": "30"}
    assert Source(flags, env).with_file(file, "f.toml").integer("--settle-seconds", 120) == 30
    assert Source({}, {}).with_file({}, "f.toml").integer("--settle-seconds", 120) == 120


def test_errors_about_a_file_value_name_the_file_and_its_key():
    source = Source({}, {}).with_file({"concurrency": 0, "log_format": ["json"]}, "f.toml")
    with pytest.raises(ConfigError, match=r"^f\.toml: concurrency: must be at least 1"):
        source.integer("--concurrency", 4, minimum=1)
    with pytest.raises(ConfigError, match=r"^f\.toml: log_format: must be a string"):
        source.string("--log-format")


def test_a_file_with_an_unknown_key_is_rejected_naming_it():
    with pytest.raises(
        ConfigError, match=r"^f.toml: concurency: unknown setting; known: concurrency"
    ):
        Source({}, {}).with_file({"concurency": 2}, "f.toml", known=frozenset({"concurrency"}))


def test_a_file_may_give_whole_numbers_as_floats_but_not_fractions_or_booleans():
    source = Source({}, {}).with_file({"a": 120.0, "b": 1.5, "c": True}, "f.toml")
    assert source.optional_integer("--a") == 120
    for flag in ("--b", "--c"):
        with pytest.raises(ConfigError, match="must be an integer"):
            source.optional_integer(flag)
    assert source.optional_integer("--absent") is None


def test_repeatable_items_split_commas_drop_blanks_and_keep_the_first_of_duplicates():
    source = Source({"email": ["a@x.org,b@x.org", " ", "a@x.org"]}, {"RECONCILER_TOPIC": "t1, t2"})
    assert source.items("--email") == ("a@x.org", "b@x.org")
    assert source.items("--topic") == ("t1", "t2")
    assert source.items("--absent") == ()


def test_pairs_are_key_equals_value_and_a_bad_one_names_the_setting():
    source = Source({"threshold": ["a=1,b = 2"]}, {"RECONCILER_PERIOD": "a"})
    assert source.pairs("--threshold") == (("a", "1"), ("b", "2"))
    with pytest.raises(ConfigError, match=r"^RECONCILER_PERIOD: expected ALARM=VALUE, got 'a'"):
        source.pairs("--period", metavar="ALARM=VALUE")


def test_finite_numbers_refuse_infinity_only_when_asked():
    assert parse_number("inf", "--rate") == float("inf")
    with pytest.raises(ConfigError, match="--rate: must be a finite number"):
        parse_number("inf", "--rate", finite=True)


def test_toml_files_are_read_and_a_broken_one_names_the_setting(tmp_path: Path):
    good = tmp_path / "good.toml"
    good.write_text('prefix = "p"\n')
    assert read_toml_file(str(good), "--config") == {"prefix": "p"}
    with pytest.raises(ConfigError, match=r"^--config: file not found"):
        read_toml_file(str(tmp_path / "absent.toml"), "--config")
