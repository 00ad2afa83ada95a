"""Settings of a reconciliation pass, shared by ``reconciler run`` and ``reconciler serve``.

Parsed once from flags and the environment (``RECONCILER_<FLAG>``; ``TABLE_NAME`` for the
table). Every problem raises :class:`ConfigError` naming the setting, before any AWS call.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from reconciler.kernel.errors import ConfigError
from reconciler.kernel.model import is_valid_slug
from reconciler.kernel.settings import (
    Source,
    TableSettings,
    add_table_arguments,
    parse_duration,
    parse_number,
    parse_table_settings,
)
from reconciler.reconcile.core import BrakePolicy, Shard
from reconciler.reconcile.export_location import ExportLocation, S3Location
from reconciler.reconcile.export_settings import (
    add_new_export_arguments,
    parse_export_location,
    refuse_new_export_flags,
)
from reconciler.reconcile.scan_core import SweepMode

DEFAULT_SETTLE_SECONDS = 120.0
"""Longer than the batching window (5 s) plus a handler run and its retries."""
DEFAULT_CONCURRENCY = 4
DEFAULT_MAX_READS_PER_SECOND = 500.0
DEFAULT_MAX_CORRECTIONS = 100
DEFAULT_MAX_CORRECTION_RATIO = 0.5
DEFAULT_BRAKE_MIN_EVENTS = 20
DEFAULT_AWS_MAX_ATTEMPTS = 8
DEFAULT_MAX_KEY_SUSPECTS = 10_000
"""Key suspects a pass holds in memory (each an attendee's key); the rest wait for the next."""

DEFAULT_ENGINE = "duckdb"
ENGINES = ("duckdb", "spark")
DEFAULT_SPARK_MASTER = "local[*]"
_SPARK_MASTER = re.compile(
    r"^(local(\[(\*|[1-9][0-9]*)(,[0-9]+)?\])?|yarn|spark://[^\s,/]+(,[^\s,/]+)*|k8s://\S+)$"
)

DEFAULT_BRAKE = BrakePolicy(
    DEFAULT_MAX_CORRECTIONS, DEFAULT_MAX_CORRECTION_RATIO, DEFAULT_BRAKE_MIN_EVENTS
)

_SHARD = re.compile(r"^\s*(\d+)\s*/\s*(\d+)\s*$")
_NAMESPACE = re.compile(r"^[A-Za-z0-9_.\-/#:]{1,255}$")


@dataclass(frozen=True, slots=True)
class RunSettings:
    table: TableSettings
    event: str | None = None
    shard: Shard | None = None
    dry_run: bool = False
    settle_seconds: float = DEFAULT_SETTLE_SECONDS
    concurrency: int = DEFAULT_CONCURRENCY
    max_reads_per_second: float = DEFAULT_MAX_READS_PER_SECOND
    """Read capacity units per second; 0 disables the limit."""
    brake: BrakePolicy = DEFAULT_BRAKE
    audit_file: Path | None = None
    aws_max_attempts: int = DEFAULT_AWS_MAX_ATTEMPTS
    """Passed to botocore as ``retries.max_attempts``: retries after the first attempt."""
    cloudwatch_namespace: str | None = None
    """When set, each pass's summary is published there for the CloudWatch alarms."""
    max_key_suspects: int = DEFAULT_MAX_KEY_SUSPECTS
    """The ledger path's cap on key suspects held by one pass (see ``--max-key-suspects``)."""
    max_read_units: float | None = None
    """Rotating sweep: no new rotation recount starts once a pass consumed this many units."""
    full_sweep_every: float | None = None
    """Rotating sweep: every event is recounted at least once per this many seconds."""
    sweep: SweepMode = SweepMode.AUTO
    from_export: ExportLocation | None = None
    """The export the sweep reads instead of the table (a local directory, an S3 location, or
    a fresh one per pass: :mod:`reconciler.reconcile.export_location`); its suspects are still
    confirmed live."""
    engine: str = DEFAULT_ENGINE
    spark_master: str = DEFAULT_SPARK_MASTER
    """Where ``--engine spark`` runs its job when the export holds no snapshot of it yet."""


def add_run_arguments(parser: argparse.ArgumentParser) -> None:
    """Flags of one pass; ``serve`` adds the same ones so both parse identically."""
    add_table_arguments(parser)
    group = parser.add_argument_group("reconciliation pass")
    group.add_argument("--event", metavar="SLUG", help="reconcile this event only")
    group.add_argument(
        "--dry-run",
        action="store_true",
        default=None,
        help="plan and report every correction, write nothing",
    )
    group.add_argument(
        "--settle-seconds",
        metavar="N",
        help=f"wait this long before rechecking a suspect (default {DEFAULT_SETTLE_SECONDS:g})",
    )
    group.add_argument(
        "--concurrency", metavar="N", help=f"events read in parallel ({DEFAULT_CONCURRENCY})"
    )
    group.add_argument(
        "--max-reads-per-second",
        metavar="N",
        help=f"read capacity units per second, 0 = unlimited ({DEFAULT_MAX_READS_PER_SECOND:g})",
    )
    group.add_argument(
        "--max-corrections",
        metavar="N",
        help=f"brake: more confirmed corrections than this writes none ({DEFAULT_MAX_CORRECTIONS})",
    )
    group.add_argument(
        "--max-correction-ratio",
        metavar="F",
        help="brake: corrections / events checked above this writes none "
        f"({DEFAULT_MAX_CORRECTION_RATIO:g})",
    )
    group.add_argument(
        "--brake-min-events",
        metavar="N",
        help=f"the ratio brake applies from this many events checked ({DEFAULT_BRAKE_MIN_EVENTS})",
    )
    group.add_argument(
        "--force", action="store_true", default=None, help="override the brake (a human decided)"
    )
    group.add_argument(
        "--shard", metavar="I/N", help="only events whose stable slug hash mod N is I"
    )
    group.add_argument(
        "--max-read-units",
        metavar="N",
        help="rotating sweep: start no rotation recount once a pass consumed N read units; "
        "events whose counter changed are still checked every pass",
    )
    group.add_argument(
        "--full-sweep-every",
        metavar="DURATION",
        help="rotating sweep: recount every event at least once per DURATION (e.g. 24h, 7d); "
        "each pass takes its share of the period",
    )
    group.add_argument(
        "--sweep",
        metavar="MODE",
        help="how events are found: query (two requests per event), scan (the whole table in "
        "one parallel Scan, --concurrency segments) or auto, by the table's shape (default "
        "auto); --event and --shard always query, since a scan reads every event",
    )
    group.add_argument(
        "--from-export",
        metavar="URI",
        help="take the pass's first look from a DynamoDB point-in-time export instead of "
        "reading the table: an export's directory (local, or s3://bucket/prefix/AWSDynamoDB/"
        "<export-id>/), a location holding several (the newest complete one is read), or "
        "new (request one per pass, see --export-bucket); each suspect is confirmed by one "
        "live look a settle window after the export time",
    )
    add_new_export_arguments(group)
    group.add_argument(
        "--engine",
        metavar="ENGINE",
        help="what reads the export: duckdb (default, embedded) or spark (the snapshot job, "
        "run in a local Spark session unless the export already holds its snapshot)",
    )
    group.add_argument(
        "--spark-master",
        metavar="URL",
        help=f"--engine spark: the Spark master of the local job ({DEFAULT_SPARK_MASTER}; "
        "local[N], spark://host:port, yarn or k8s://...)",
    )
    group.add_argument("--audit-file", metavar="PATH", help="append audit records (JSON lines)")
    group.add_argument(
        "--max-key-suspects",
        metavar="N",
        help="ledger mode: key suspects one pass holds for their second look; more are "
        f"deferred to the next pass and counted ({DEFAULT_MAX_KEY_SUSPECTS})",
    )
    group.add_argument(
        "--cloudwatch-namespace",
        metavar="NS",
        help="publish each pass's summary to this CloudWatch namespace (PutMetricData), "
        "which the reconciler alarms of `reconciler alarms` watch",
    )
    group.add_argument(
        "--aws-max-attempts",
        metavar="N",
        help="boto3 retries per request after the first attempt, i.e. botocore's "
        f"retries.max_attempts ({DEFAULT_AWS_MAX_ATTEMPTS})",
    )


def parse_shard(text: str, label: str) -> Shard:
    match = _SHARD.match(text)
    if not match:
        raise ConfigError(label, f"must be I/N such as 0/4, got {text!r}")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 0 <= index < count:
        raise ConfigError(label, f"needs 0 <= I < N, got {text!r}")
    return Shard(index, count)


def parse_run_settings(source: Source) -> RunSettings:
    table = parse_table_settings(source)
    event = source.string("--event")
    if event is not None and not is_valid_slug(event, table.model):
        raise ConfigError(source.raw("--event")[0], f"is not a valid event slug: {event!r}")
    shard_label, shard_raw = source.raw("--shard")
    shard = parse_shard(str(shard_raw), shard_label) if shard_raw is not None else None
    if shard is not None and event is not None:
        raise ConfigError(shard_label, "cannot be combined with --event")
    sweep = SweepMode(source.choice("--sweep", "auto", tuple(m.value for m in SweepMode)))
    for flag in ("--max-read-units", "--full-sweep-every"):
        label, raw = source.raw(flag)
        if raw is not None and event is not None:
            raise ConfigError(label, "cannot be combined with --event (one event is one recount)")
        if raw is not None and sweep is SweepMode.SCAN:
            raise ConfigError(label, "cannot be combined with --sweep scan (a scan reads it all)")
    audit_file = _audit_file(source)
    from_export, engine = _export(source)
    return RunSettings(
        table=table,
        event=event,
        shard=shard,
        dry_run=source.boolean("--dry-run", False),
        settle_seconds=source.duration("--settle-seconds", DEFAULT_SETTLE_SECONDS),
        concurrency=source.integer("--concurrency", DEFAULT_CONCURRENCY, minimum=1, maximum=64),
        max_reads_per_second=source.number(
            "--max-reads-per-second", DEFAULT_MAX_READS_PER_SECOND, minimum=0
        ),
        brake=BrakePolicy(
            max_corrections=source.integer("--max-corrections", DEFAULT_MAX_CORRECTIONS, minimum=0),
            max_ratio=source.number(
                "--max-correction-ratio", DEFAULT_MAX_CORRECTION_RATIO, minimum=0, maximum=1
            ),
            min_events_for_ratio=source.integer(
                "--brake-min-events", DEFAULT_BRAKE_MIN_EVENTS, minimum=1
            ),
            force=source.boolean("--force", False),
        ),
        audit_file=audit_file,
        aws_max_attempts=source.integer(
            "--aws-max-attempts", DEFAULT_AWS_MAX_ATTEMPTS, minimum=0, maximum=20
        ),
        cloudwatch_namespace=_cloudwatch_namespace(source),
        max_key_suspects=source.integer(
            "--max-key-suspects", DEFAULT_MAX_KEY_SUSPECTS, minimum=1, maximum=10_000_000
        ),
        max_read_units=_optional_positive(
            source, "--max-read-units", lambda raw, label: parse_number(raw, label, finite=True)
        ),
        full_sweep_every=_optional_positive(source, "--full-sweep-every", _duration),
        sweep=sweep,
        from_export=from_export,
        engine=engine,
        spark_master=_spark_master(source, engine),
    )


_NOT_WITH_EXPORT = ("--shard", "--sweep", "--max-read-units", "--full-sweep-every")


def _export(source: Source) -> tuple[ExportLocation | None, str]:
    """``--from-export`` and ``--engine``: the location kind first, then the engine."""
    label, raw = source.raw("--from-export")
    engine_label, engine_raw = source.raw("--engine")
    engine = source.choice("--engine", DEFAULT_ENGINE, ENGINES)
    if raw is None or str(raw).strip() == "":
        if engine_raw is not None:
            raise ConfigError(engine_label, "only applies with --from-export")
        refuse_new_export_flags(source)
        return None, engine
    for flag in _NOT_WITH_EXPORT:
        other, value = source.raw(flag)
        if value is not None:
            raise ConfigError(
                other, "cannot be combined with --from-export (the export is the sweep)"
            )
    location = parse_export_location(source, label, str(raw).strip())
    if engine == "spark" and not isinstance(location, Path | S3Location):
        raise ConfigError(
            engine_label,
            "spark reads an existing export, local or in S3 (in S3, the snapshot its job "
            "wrote beside it on Glue or EMR Serverless: docs/export.md); new takes duckdb",
        )
    return location, engine


def _spark_master(source: Source, engine: str) -> str:
    label, raw = source.raw("--spark-master")
    if raw is None or str(raw).strip() == "":
        return DEFAULT_SPARK_MASTER
    if engine != "spark":
        raise ConfigError(label, "only applies with --engine spark")
    master = str(raw).strip()
    if not _SPARK_MASTER.match(master):
        raise ConfigError(
            label, f"is not a Spark master (local[*], local[N], spark://host:port...): {raw!r}"
        )
    return master


def _duration(text: object, label: str) -> float:
    return parse_duration(str(text), label)


def _optional_positive(
    source: Source, flag: str, parse: Callable[[object, str], float]
) -> float | None:
    label, raw = source.raw(flag)
    if raw is None or str(raw).strip() == "":
        return None
    value = parse(raw, label)
    if value <= 0:
        raise ConfigError(label, f"must be greater than 0, got {raw!r}")
    return value


def _cloudwatch_namespace(source: Source) -> str | None:
    label, raw = source.raw("--cloudwatch-namespace")
    if raw is None:
        return None
    namespace = str(raw).strip()
    if not _NAMESPACE.match(namespace) or namespace.startswith("AWS/"):
        raise ConfigError(label, f"is not a usable CloudWatch namespace: {raw!r}")
    return namespace


def _audit_file(source: Source) -> Path | None:
    label, raw = source.raw("--audit-file")
    if raw is None or str(raw).strip() == "":
        return None
    path = Path(str(raw)).expanduser()
    if path.exists() and not path.is_file():
        raise ConfigError(label, f"is not a regular file: {str(path)!r}")
    if not path.parent.is_dir():
        raise ConfigError(label, f"directory does not exist: {str(path.parent)!r}")
    # Opened for append now, not at the first correction: by then the correction is already
    # written to the table and its audit line would be lost.
    try:
        path.open("a", encoding="utf-8").close()
    except OSError as exc:
        raise ConfigError(label, f"cannot be opened for appending: {exc.strerror or exc}") from exc
    return path
