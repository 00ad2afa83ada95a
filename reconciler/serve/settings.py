"""Flags and environment of ``reconciler serve`` (on top of every flag of ``run``).

:class:`ServeSettings` and :class:`LeaseSettings` hold serve's defaults, once: the flag parser
falls back to them, the help texts print them, and every composition root (``reconciler
serve``, the demo's embedded loop, tests) builds on them. Parsed once at start-up; every
problem is a :class:`ConfigError` naming the setting, raised before any port is opened or AWS
call made.
"""

from __future__ import annotations

import argparse
import datetime as dt
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.kernel.errors import ConfigError
from reconciler.kernel.settings import Source
from reconciler.reconcile.export_location import S3Location, names_one_export
from reconciler.reconcile.export_store import is_local_export
from reconciler.reconcile.settings import RunSettings
from reconciler.serve.lease_store import DEFAULT_LEASE_NAME
from reconciler.serve.scheduler import (
    MAX_MISFIRE_GRACE_SECONDS,
    Schedule,
    build_trigger,
    longest_gap_seconds,
)


@dataclass(frozen=True, slots=True)
class LeaseSettings:
    name: str = DEFAULT_LEASE_NAME
    duration_seconds: float = 30.0
    heartbeat_seconds: float = 10.0
    """The flag default is this or a third of a shorter lease, whichever is less."""
    owner: str = ""
    """Empty: host, pid and a random suffix (unique per process)."""


@dataclass(frozen=True, slots=True)
class ServeSettings:
    schedule: Schedule = field(default_factory=lambda: Schedule(every=300.0))
    host: str = "0.0.0.0"  # noqa: S104 - Prometheus scrapes from another host or pod
    port: int = 9464
    shutdown_timeout: float = 25.0
    """Below Kubernetes' default 30 s grace period, so we exit before the SIGKILL."""
    max_consecutive_failures: int = 3
    """Readiness fails once more passes than this have failed in a row."""
    lease: LeaseSettings | None = LeaseSettings()
    """None: no lease, this replica always leads (one replica only)."""
    handler_function_name: str | None = None
    """Lag gate: the stream handler's Lambda function name; None disables the gate."""
    on_failure_queue_url: str | None = None
    """The stream mapping's on-failure queue, replayed before each pass; None: no replay."""


DEFAULTS = ServeSettings()
DEFAULT_LEASE = LeaseSettings()


def shown(seconds: float | None) -> str:
    """A duration as the flags accept it, for help texts: 300 -> ``5m``, 25 -> ``25s``."""
    if seconds is None:
        return "none"
    for unit, size in (("d", 86400.0), ("h", 3600.0), ("m", 60.0)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g}{unit}"
    return f"{seconds:g}s" if seconds else "0"


def add_serve_arguments(parser: argparse.ArgumentParser) -> None:
    schedule = parser.add_argument_group("schedule (UTC)")
    schedule.add_argument(
        "--every",
        metavar="DURATION",
        help=f"run a pass every DURATION, e.g. 5m (default {shown(DEFAULTS.schedule.every)})",
    )
    schedule.add_argument(
        "--cron", metavar="EXPR", help='crontab expression instead of --every, e.g. "*/10 * * * *"'
    )
    schedule.add_argument(
        "--jitter",
        metavar="DURATION",
        help=f"delay each run by up to DURATION (default {shown(DEFAULTS.schedule.jitter)})",
    )
    schedule.add_argument(
        "--run-at-start", action="store_true", default=None, help="also run a pass at start-up"
    )
    schedule.add_argument(
        "--misfire-grace",
        metavar="DURATION",
        help="run a late pass if at most this late "
        f"(default: half the interval, max {shown(MAX_MISFIRE_GRACE_SECONDS)})",
    )
    schedule.add_argument(
        "--shutdown-timeout",
        metavar="DURATION",
        help="on SIGTERM, wait this long for the pass to finish its event "
        f"(default {shown(DEFAULTS.shutdown_timeout)})",
    )
    schedule.add_argument(
        "--max-consecutive-failures",
        metavar="N",
        help="/readyz fails after more failed passes in a row than this "
        f"(default {DEFAULTS.max_consecutive_failures})",
    )
    http = parser.add_argument_group("HTTP (/metrics, /healthz, /readyz)")
    http.add_argument("--port", metavar="N", help=f"listen port (default {DEFAULTS.port})")
    http.add_argument("--bind", metavar="ADDRESS", help=f"listen address (default {DEFAULTS.host})")
    lease = parser.add_argument_group("leader lease (several replicas)")
    lease.add_argument(
        "--lease",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="hold a lease item in the table so only one replica runs passes (default on)",
    )
    lease.add_argument("--lease-name", help=f"sort key of the lease item ({DEFAULT_LEASE.name})")
    lease.add_argument(
        "--lease-duration",
        metavar="DURATION",
        help=f"lease duration ({shown(DEFAULT_LEASE.duration_seconds)})",
    )
    lease.add_argument(
        "--heartbeat-interval",
        metavar="DURATION",
        help=f"lease renewal interval ({shown(DEFAULT_LEASE.heartbeat_seconds)})",
    )
    lease.add_argument("--owner-id", help="this replica's lease owner id (default host-pid-rand)")
    gate = parser.add_argument_group("lag gate")
    gate.add_argument(
        "--handler-function-name",
        metavar="NAME",
        help="stream handler Lambda (e.g. updateAttendeeCounter): pause corrections while its "
        "IteratorAge exceeds the settle window",
    )
    parser.add_argument(
        "--on-failure-queue-url",
        metavar="URL",
        help="the stream mapping's on-failure SQS queue: the leader replays its dropped batches "
        "before each pass (see `reconciler replay`)",
    )


def parse_schedule(source: Source) -> Schedule:
    default = DEFAULTS.schedule
    every_label, every_raw = source.raw("--every")
    cron = source.string("--cron")
    if every_raw is not None and cron:
        raise ConfigError(every_label, "cannot be combined with --cron")
    every = default.every if every_raw is None else source.duration("--every", 0.0, minimum=0.001)
    if cron:
        every = None
    _, misfire_raw = source.raw("--misfire-grace")
    schedule = Schedule(
        every=every,
        cron=cron,
        jitter=source.duration("--jitter", default.jitter),
        run_at_start=source.boolean("--run-at-start", default.run_at_start),
        misfire_grace=(
            source.duration("--misfire-grace", 1.0, minimum=1.0)
            if misfire_raw is not None
            else default.misfire_grace
        ),
    )
    interval = longest_gap_seconds(build_trigger(schedule), dt.datetime.now(dt.UTC))
    if schedule.jitter >= interval:
        raise ConfigError(source.raw("--jitter")[0], "must be shorter than the interval")
    return schedule


def parse_lease(source: Source, run: RunSettings) -> LeaseSettings | None:
    if not source.boolean("--lease", DEFAULTS.lease is not None):
        return None
    default = DEFAULT_LEASE
    duration = source.duration("--lease-duration", default.duration_seconds, minimum=0.1)
    heartbeat = source.duration(
        "--heartbeat-interval", min(default.heartbeat_seconds, duration / 3), minimum=0.01
    )
    if heartbeat * 2 > duration:
        raise ConfigError(
            source.raw("--heartbeat-interval")[0], "must be at most half the lease duration"
        )
    default_name = default.name
    if run.shard is not None:
        # the workers of a sharded deployment each need their own leader
        default_name = f"{default.name}#shard-{run.shard.index}-of-{run.shard.count}"
    name = (source.string("--lease-name") or default_name).strip()
    if not name:
        raise ConfigError(source.raw("--lease-name")[0], "must not be empty")
    return LeaseSettings(
        name=name,
        duration_seconds=duration,
        heartbeat_seconds=heartbeat,
        owner=(source.string("--owner-id") or default.owner).strip(),
    )


def _check_export(source: Source, run: RunSettings) -> None:
    """Every scheduled pass needs a snapshot newer than the last: a fresh export (``new``) or a
    location exports keep arriving in. One fixed export would be read again each pass."""
    where = run.from_export
    one = (isinstance(where, Path) and is_local_export(where)) or (
        isinstance(where, S3Location) and names_one_export(where.prefix)
    )
    if one:
        raise ConfigError(
            source.raw("--from-export")[0],
            "names one export, which every scheduled pass would read again: give serve "
            "new (with --export-bucket) or the location the exports are written to "
            "(each pass reads the newest); use run --once for a single export",
        )


def parse_serve_settings(source: Source, run: RunSettings) -> ServeSettings:
    _check_export(source, run)
    function_name = (source.string("--handler-function-name") or "").strip()
    return ServeSettings(
        schedule=parse_schedule(source),
        host=(source.string("--bind") or DEFAULTS.host).strip(),
        port=source.integer("--port", DEFAULTS.port, minimum=0, maximum=65535),
        shutdown_timeout=source.duration("--shutdown-timeout", DEFAULTS.shutdown_timeout),
        max_consecutive_failures=source.integer(
            "--max-consecutive-failures", DEFAULTS.max_consecutive_failures, minimum=0
        ),
        lease=parse_lease(source, run),
        handler_function_name=function_name or DEFAULTS.handler_function_name,
        on_failure_queue_url=(source.string("--on-failure-queue-url") or "").strip() or None,
    )
