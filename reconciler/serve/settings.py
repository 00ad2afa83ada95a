"""Flags and environment of ``reconciler serve`` (on top of every flag of ``run``).

Parsed once at start-up; every problem is a :class:`ConfigError` naming the setting, raised
before any port is opened or AWS call made.
"""

from __future__ import annotations

import argparse
import datetime as dt

from reconciler.kernel.errors import ConfigError
from reconciler.kernel.settings import Source
from reconciler.reconcile.settings import RunSettings
from reconciler.serve.app import DEFAULT_PORT, LeaseSettings, ServeSettings
from reconciler.serve.lease import DEFAULT_LEASE_NAME
from reconciler.serve.scheduler import Schedule, build_trigger, longest_gap_seconds

DEFAULT_EVERY_SECONDS = 300.0
DEFAULT_SHUTDOWN_TIMEOUT = 25.0
"""Below Kubernetes' default 30 s grace period, so we exit before the SIGKILL."""
DEFAULT_LEASE_SECONDS = 30.0
DEFAULT_HEARTBEAT_SECONDS = 10.0
DEFAULT_MAX_CONSECUTIVE_FAILURES = 3


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    schedule = parser.add_argument_group("schedule (UTC)")
    schedule.add_argument(
        "--every", metavar="DURATION", help="run a pass every DURATION, e.g. 5m (default 5m)"
    )
    schedule.add_argument(
        "--cron", metavar="EXPR", help='crontab expression instead of --every, e.g. "*/10 * * * *"'
    )
    schedule.add_argument(
        "--jitter", metavar="DURATION", help="delay each run by up to DURATION (default 0)"
    )
    schedule.add_argument(
        "--run-at-start", action="store_true", default=None, help="also run a pass at start-up"
    )
    schedule.add_argument(
        "--misfire-grace",
        metavar="DURATION",
        help="run a late pass if at most this late (default: half the interval, max 15m)",
    )
    schedule.add_argument(
        "--shutdown-timeout",
        metavar="DURATION",
        help="on SIGTERM, wait this long for the pass to finish its event (default 25s)",
    )
    schedule.add_argument(
        "--max-consecutive-failures",
        metavar="N",
        help="/readyz fails after more failed passes in a row than this (default 3)",
    )
    http = parser.add_argument_group("HTTP (/metrics, /healthz, /readyz)")
    http.add_argument("--port", metavar="N", help=f"listen port (default {DEFAULT_PORT})")
    http.add_argument("--bind", metavar="ADDRESS", help="listen address (default 0.0.0.0)")
    lease = parser.add_argument_group("leader lease (several replicas)")
    lease.add_argument(
        "--lease",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="hold a lease item in the table so only one replica runs passes (default on)",
    )
    lease.add_argument("--lease-name", help=f"sort key of the lease item ({DEFAULT_LEASE_NAME})")
    lease.add_argument("--lease-duration", metavar="DURATION", help="lease duration (30s)")
    lease.add_argument(
        "--heartbeat-interval", metavar="DURATION", help="lease renewal interval (10s)"
    )
    lease.add_argument("--owner-id", help="this replica's lease owner id (default host-pid-rand)")
    gate = parser.add_argument_group("lag gate")
    gate.add_argument(
        "--handler-function-name",
        metavar="NAME",
        help="stream handler Lambda (e.g. updateAttendeeCounter): pause corrections while its "
        "IteratorAge exceeds the settle window",
    )


def parse_schedule(source: Source) -> Schedule:
    every_label, every_raw = source.raw("--every")
    cron = source.string("--cron")
    if every_raw is not None and cron:
        raise ConfigError(every_label, "cannot be combined with --cron")
    every = None if cron else source.duration("--every", DEFAULT_EVERY_SECONDS, minimum=0.001)
    if every is not None and every <= 0:
        raise ConfigError(every_label, "must be positive")
    _, misfire_raw = source.raw("--misfire-grace")
    schedule = Schedule(
        every=every,
        cron=cron,
        jitter=source.duration("--jitter", 0.0),
        run_at_start=source.boolean("--run-at-start", False),
        misfire_grace=(
            source.duration("--misfire-grace", 1.0, minimum=1.0)
            if misfire_raw is not None
            else None
        ),
    )
    interval = longest_gap_seconds(build_trigger(schedule), dt.datetime.now(dt.UTC))
    if schedule.jitter >= interval:
        raise ConfigError(source.raw("--jitter")[0], "must be shorter than the interval")
    return schedule


def parse_lease(source: Source, run: RunSettings) -> LeaseSettings | None:
    if not source.boolean("--lease", True):
        return None
    duration = source.duration("--lease-duration", DEFAULT_LEASE_SECONDS, minimum=0.1)
    heartbeat = source.duration(
        "--heartbeat-interval", min(DEFAULT_HEARTBEAT_SECONDS, duration / 3), minimum=0.01
    )
    if heartbeat * 2 > duration:
        raise ConfigError(
            source.raw("--heartbeat-interval")[0], "must be at most half the lease duration"
        )
    default_name = DEFAULT_LEASE_NAME
    if run.shard is not None:
        # the workers of a sharded deployment each need their own leader
        default_name = f"{DEFAULT_LEASE_NAME}#shard-{run.shard.index}-of-{run.shard.count}"
    name = (source.string("--lease-name") or default_name).strip()
    if not name:
        raise ConfigError(source.raw("--lease-name")[0], "must not be empty")
    return LeaseSettings(
        name=name,
        duration_seconds=duration,
        heartbeat_seconds=heartbeat,
        owner=(source.string("--owner-id") or "").strip(),
    )


def parse_serve_settings(source: Source, run: RunSettings) -> ServeSettings:
    function_name = (source.string("--handler-function-name") or "").strip() or None
    return ServeSettings(
        schedule=parse_schedule(source),
        host=(source.string("--bind") or "0.0.0.0").strip(),  # noqa: S104
        port=source.integer("--port", DEFAULT_PORT, minimum=0, maximum=65535),
        shutdown_timeout=source.duration("--shutdown-timeout", DEFAULT_SHUTDOWN_TIMEOUT),
        max_consecutive_failures=source.integer(
            "--max-consecutive-failures", DEFAULT_MAX_CONSECUTIVE_FAILURES, minimum=0
        ),
        lease=parse_lease(source, run),
        handler_function_name=function_name,
    )
