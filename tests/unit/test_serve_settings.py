"""``reconciler serve`` settings: flags over env, fail fast with the setting named."""

from __future__ import annotations

import argparse

import pytest

from reconciler.kernel.errors import ConfigError
from reconciler.kernel.settings import Source, parse_duration
from reconciler.reconcile.settings import add_run_arguments, parse_run_settings
from reconciler.serve.settings import (
    ServeSettings,
    add_serve_arguments,
    parse_serve_settings,
    shown,
)


def parse(argv: list[str], env: dict[str, str] | None = None):  # type: ignore[no-untyped-def]
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    add_serve_arguments(parser)
    source = Source(parser.parse_args(argv), {"TABLE_NAME": "t", **(env or {})})
    return parse_serve_settings(source, parse_run_settings(source))


def test_defaults_are_every_five_minutes_on_port_9464_with_a_lease():
    settings = parse([])
    assert settings.schedule.every == 300
    assert settings.port == 9464
    assert settings.host == "0.0.0.0"  # noqa: S104
    assert settings.lease is not None
    assert settings.lease.name == "leader-lease"
    assert settings.handler_function_name is None


def test_without_flags_or_environment_the_settings_are_the_dataclass_defaults():
    assert parse([]) == ServeSettings()


@pytest.mark.parametrize(
    ("seconds", "text"), [(300.0, "5m"), (25.0, "25s"), (0.0, "0"), (900.0, "15m"), (0.25, "0.25s")]
)
def test_help_texts_show_defaults_in_the_syntax_the_flags_accept(seconds, text):
    assert shown(seconds) == text
    assert parse_duration(text, "--every") == seconds


def test_duration_syntax_and_environment_are_accepted():
    settings = parse(
        ["--every", "90s"],
        {"RECONCILER_SHUTDOWN_TIMEOUT": "1m", "RECONCILER_HANDLER_FUNCTION_NAME": "fn"},
    )
    assert settings.schedule.every == 90
    assert settings.shutdown_timeout == 60
    assert settings.handler_function_name == "fn"


def test_flags_win_over_environment():
    settings = parse(["--port", "9000"], {"RECONCILER_PORT": "9100"})
    assert settings.port == 9000


def test_every_and_cron_together_are_rejected():
    with pytest.raises(ConfigError, match="--every: cannot be combined with --cron"):
        parse(["--every", "5m", "--cron", "*/5 * * * *"])


def test_cron_replaces_the_default_interval():
    settings = parse(["--cron", "*/10 * * * *"])
    assert settings.schedule.every is None
    assert settings.schedule.cron == "*/10 * * * *"


@pytest.mark.parametrize(
    ("argv", "setting"),
    [
        (["--every", "soon"], "--every"),
        (["--every", "0"], "--every"),
        (["--cron", "every day"], "--cron"),
        (["--port", "70000"], "--port"),
        (["--jitter", "10m", "--every", "5m"], "--jitter"),
        (["--lease-duration", "3s", "--heartbeat-interval", "2s"], "--heartbeat-interval"),
        (["--max-consecutive-failures", "-1"], "--max-consecutive-failures"),
    ],
)
def test_invalid_values_name_the_setting(argv, setting):
    with pytest.raises(ConfigError) as info:
        parse(argv)
    assert info.value.setting.startswith(setting)


def test_no_lease_disables_the_lease():
    assert parse(["--no-lease"]).lease is None
    assert parse([], {"RECONCILER_LEASE": "false"}).lease is None


def test_each_shard_gets_its_own_lease_item():
    settings = parse(["--shard", "1/4"])
    assert settings.lease is not None
    assert settings.lease.name == "leader-lease#shard-1-of-4"


def test_heartbeat_defaults_to_a_third_of_a_short_lease():
    settings = parse(["--lease-duration", "3s"])
    assert settings.lease is not None
    assert settings.lease.heartbeat_seconds == 1.0
