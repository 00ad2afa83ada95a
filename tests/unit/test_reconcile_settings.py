"""Flags and environment of a pass: defaults, precedence, and one clear error per bad value."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from reconciler.kernel.errors import ConfigError
from reconciler.kernel.settings import Source
from reconciler.reconcile.core import Shard
from reconciler.reconcile.pass_control import PassOptions
from reconciler.reconcile.scan_core import SweepMode
from reconciler.reconcile.settings import (
    DEFAULT_MAX_KEY_SUSPECTS,
    DEFAULT_SETTLE_SECONDS,
    add_run_arguments,
    parse_run_settings,
)


def parse(argv: list[str], env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    args = parser.parse_args(argv)
    return parse_run_settings(Source(args, {"TABLE_NAME": "t", **(env or {})}))


def test_defaults_follow_the_issue():
    settings = parse([])
    assert settings.settle_seconds == DEFAULT_SETTLE_SECONDS == 120
    assert settings.dry_run is False
    assert settings.shard is None
    assert settings.event is None
    assert settings.brake.force is False
    assert settings.table.table_name == "t"


def test_the_cap_on_key_suspects_defaults_to_ten_thousand_and_reaches_the_pass():
    assert parse([]).max_key_suspects == DEFAULT_MAX_KEY_SUSPECTS == 10_000
    assert parse([], {"RECONCILER_MAX_KEY_SUSPECTS": "50"}).max_key_suspects == 50
    settings = parse(["--max-key-suspects", "200"])
    assert PassOptions.from_settings(settings).max_key_suspects == 200


def test_flags_win_over_the_environment():
    settings = parse(
        ["--settle-seconds", "5", "--concurrency", "8"],
        {"RECONCILER_SETTLE_SECONDS": "300", "RECONCILER_CONCURRENCY": "2"},
    )
    assert settings.settle_seconds == 5
    assert settings.concurrency == 8


def test_everything_can_come_from_the_environment():
    settings = parse(
        [],
        {
            "RECONCILER_DRY_RUN": "true",
            "RECONCILER_SHARD": "2/5",
            "RECONCILER_MAX_CORRECTIONS": "7",
            "RECONCILER_MAX_CORRECTION_RATIO": "0.2",
            "RECONCILER_MAX_READS_PER_SECOND": "0",
            "RECONCILER_FORCE": "1",
            "RECONCILER_SETTLE_SECONDS": "2m",
        },
    )
    assert settings.dry_run is True
    assert settings.shard == Shard(2, 5)
    assert settings.brake.max_corrections == 7
    assert settings.brake.max_ratio == 0.2
    assert settings.brake.force is True
    assert settings.max_reads_per_second == 0
    assert settings.settle_seconds == 120


@pytest.mark.parametrize("text", ["3/3", "4/3", "-1/3", "0/0", "a/b", "1", "1/2/3"])
def test_a_bad_shard_names_the_flag(text: str):
    with pytest.raises(ConfigError, match="--shard"):
        parse([f"--shard={text}"])


def test_a_bad_shard_from_the_environment_names_the_variable():
    with pytest.raises(ConfigError, match="RECONCILER_SHARD"):
        parse([], {"RECONCILER_SHARD": "9/3"})


@pytest.mark.parametrize(
    ("argv", "setting"),
    [
        (["--concurrency", "0"], "--concurrency"),
        (["--settle-seconds", "soon"], "--settle-seconds"),
        (["--max-correction-ratio", "1.5"], "--max-correction-ratio"),
        (["--max-corrections", "-1"], "--max-corrections"),
        (["--max-reads-per-second", "-3"], "--max-reads-per-second"),
        (["--event", "bad#slug"], "--event"),
        (["--aws-max-attempts=-1"], "--aws-max-attempts"),
        (["--event", "tech", "--shard", "0/2"], "--shard"),
        (["--audit-file", "/no/such/dir/audit.jsonl"], "--audit-file"),
        (["--max-key-suspects", "0"], "--max-key-suspects"),
    ],
)
def test_invalid_settings_name_the_setting(argv: list[str], setting: str):
    with pytest.raises(ConfigError) as info:
        parse(argv)
    assert str(info.value).startswith(setting)


def test_missing_table_name_is_an_error_naming_it():
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    with pytest.raises(ConfigError, match="TABLE_NAME"):
        parse_run_settings(Source(parser.parse_args([]), {}))


def test_an_audit_file_that_is_a_directory_is_rejected(tmp_path: Path):
    with pytest.raises(ConfigError, match="not a regular file"):
        parse(["--audit-file", str(tmp_path)])


def test_an_audit_file_in_an_existing_directory_is_accepted(tmp_path: Path):
    assert parse(["--audit-file", str(tmp_path / "a.jsonl")]).audit_file == tmp_path / "a.jsonl"


def test_an_audit_file_that_cannot_be_opened_is_rejected_before_the_pass(tmp_path: Path):
    # A dangling symlink passes the directory checks, yet appending to it fails (even as root).
    link = tmp_path / "audit.jsonl"
    link.symlink_to(tmp_path / "gone" / "audit.jsonl")
    with pytest.raises(ConfigError, match=r"^--audit-file: cannot be opened"):
        parse(["--audit-file", str(link)])


def test_the_rotating_sweep_takes_a_read_budget_and_a_period():
    settings = parse(["--full-sweep-every", "7d"], {"RECONCILER_MAX_READ_UNITS": "5000"})
    assert (settings.full_sweep_every, settings.max_read_units) == (7 * 86400.0, 5000.0)
    assert parse([]).max_read_units is None


@pytest.mark.parametrize(
    ("argv", "flag"),
    [
        (["--event", "tech", "--max-read-units", "5"], "--max-read-units"),
        (["--full-sweep-every", "0"], "--full-sweep-every"),
        (["--max-read-units", "-1"], "--max-read-units"),
        (["--full-sweep-every", "weekly"], "--full-sweep-every"),
        (["--sweep", "scan", "--max-read-units", "5"], "--max-read-units"),
    ],
)
def test_a_bad_budget_or_period_is_refused_naming_the_flag(argv: list[str], flag: str):
    with pytest.raises(ConfigError, match=flag):
        parse(argv)


def test_the_sweep_is_auto_unless_the_flag_or_the_environment_says_otherwise():
    assert parse([]).sweep is SweepMode.AUTO
    assert parse([], {"RECONCILER_SWEEP": "scan"}).sweep is SweepMode.SCAN
    assert parse(["--sweep", "query"], {"RECONCILER_SWEEP": "scan"}).sweep is SweepMode.QUERY


def test_a_sweep_from_a_settings_file_comes_below_the_environment():
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    source = Source(parser.parse_args([]), {"TABLE_NAME": "t"}).with_file(
        {"sweep": "scan"}, "reconciler.toml"
    )
    assert parse_run_settings(source).sweep is SweepMode.SCAN


@pytest.mark.parametrize(
    ("argv", "env", "setting"),
    [(["--sweep", "fast"], {}, "--sweep"), ([], {"RECONCILER_SWEEP": "both"}, "RECONCILER_SWEEP")],
)
def test_an_unknown_sweep_names_where_it_came_from(argv, env, setting):
    with pytest.raises(ConfigError) as caught:
        parse(argv, env)
    assert caught.value.setting == setting
