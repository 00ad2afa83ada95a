"""``reconciler init``: the registration table and the state table, set up in one step; and
``--backfill``, a ledger entry for every attendee item the counters already include.

Idempotent: what exists is checked, never recreated; an existing registration table is never
changed. Human lines go to stderr, one JSON summary to stdout. Exit codes: 0 done (or nothing to
do), 1 a table is not shaped as needed or an AWS call failed, 2 invalid settings.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.cli.exit_codes import ExitCode
from reconciler.devtools.local_table import (
    STREAM_VIEW_TYPE,
    SetupReport,
    Step,
    TableShapeError,
    ensure_tables,
)
from reconciler.kernel.aws import Clients, client_config, session_from_env
from reconciler.kernel.errors import ConfigError, ReconcilerError
from reconciler.kernel.ledger import LedgerModel
from reconciler.kernel.logs import configure_logging
from reconciler.kernel.model import is_valid_slug
from reconciler.kernel.settings import (
    Source,
    TableSettings,
    add_log_arguments,
    add_table_arguments,
    parse_log_settings,
    parse_table_settings,
)
from reconciler.reconcile.backfill import (
    DEFAULT_CONCURRENCY,
    Backfill,
    BackfillOptions,
    BackfillSummary,
)
from reconciler.reconcile.backfill_dynamo import DynamoAttendeeHashes, DynamoLedgerClaims
from reconciler.reconcile.dynamo import DynamoReconcileTable
from reconciler.reconcile.ratelimit import ReadRateLimiter
from reconciler.reconcile.settings import DEFAULT_SETTLE_SECONDS

_PREFIX = "reconciler init:"

_SAID = {
    Step.CREATED: "created",
    Step.EXISTED: "exists",
    Step.WOULD_CREATE: "missing, would be created (dry run)",
    Step.ENABLED: "enabled",
    Step.ALREADY: "already enabled",
    Step.WOULD_ENABLE: "off, would be enabled (dry run)",
    Step.UNSUPPORTED: "not supported by this endpoint, skipped",
}


@dataclass(frozen=True, slots=True)
class InitSettings:
    table: TableSettings
    backfill: bool
    event: str | None
    options: BackfillOptions

    @property
    def dry_run(self) -> bool:
        return self.options.dry_run


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "init",
        help="create the registration and state tables if missing; --backfill the ledger",
        description="Creates, on the endpoint boto3 resolves (AWS_ENDPOINT_URL for a local "
        "one), the registration table with its stream and the state table with TTL, if they "
        "are missing; checks them if they exist, and never changes the registration table. "
        "--backfill then gives every attendee item of every event its ledger entry. Human "
        "lines go to stderr, one JSON summary to stdout.",
    )
    add_table_arguments(parser)
    group = parser.add_argument_group("backfill of the counter's ledger")
    group.add_argument(
        "--backfill",
        action="store_true",
        default=None,
        help="create a present ledger entry for every attendee item that has none, then mark "
        "each event backfilled",
    )
    group.add_argument("--event", metavar="SLUG", help="backfill this event only")
    group.add_argument(
        "--dry-run",
        action="store_true",
        default=None,
        help="change nothing: report what would be created and count the attendees",
    )
    group.add_argument(
        "--concurrency", metavar="N", help=f"events listed in parallel ({DEFAULT_CONCURRENCY})"
    )
    group.add_argument(
        "--settle-seconds",
        metavar="DURATION",
        help="wait this long after listing an event before claiming its entries, so an "
        f"insert still on its way to the handler is counted by it ({DEFAULT_SETTLE_SECONDS:g})",
    )
    add_log_arguments(parser)
    parser.set_defaults(handler=handle)


def parse_init_settings(source: Source) -> InitSettings:
    table = parse_table_settings(source)
    if table.state_table == table.table_name:
        raise ConfigError(source.label("--state-table"), "must differ from the table name")
    backfill = source.boolean("--backfill", False)
    event = source.optional_string("--event")
    if event is not None and not is_valid_slug(event, table.model):
        raise ConfigError(source.label("--event"), f"is not a valid event slug: {event!r}")
    if event is not None and not backfill:
        raise ConfigError(source.label("--event"), "applies only with --backfill")
    options = BackfillOptions(
        settle_seconds=source.duration("--settle-seconds", DEFAULT_SETTLE_SECONDS),
        concurrency=source.integer("--concurrency", DEFAULT_CONCURRENCY, minimum=1, maximum=64),
        dry_run=source.boolean("--dry-run", False),
    )
    return InitSettings(table=table, backfill=backfill, event=event, options=options)


def handle(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    source = Source(args, env)
    logs = parse_log_settings(source)
    settings = parse_init_settings(source)
    configure_logging(logs.format, logs.level)
    clients = Clients(session=session_from_env(env), config=client_config())
    try:
        dynamodb = clients.dynamodb()
    except ValueError as exc:  # botocore refuses a malformed endpoint URL when creating a client
        raise ConfigError("AWS_ENDPOINT_URL", str(exc)) from exc

    summary: dict[str, Any] = {
        "ok": False,
        "table_name": settings.table.table_name,
        "state_table_name": settings.table.state_table,
        "dry_run": settings.dry_run,
    }
    try:
        report = ensure_tables(dynamodb, settings.table, dry_run=settings.dry_run)
    except TableShapeError as exc:
        say(exc.problem)
        say(f"fix: {exc.fix}")
        return finish({**summary, "error": exc.problem, "fix": exc.fix}, ExitCode.FAILURE)
    except ReconcilerError as exc:
        say(str(exc))
        return finish({**summary, "error": str(exc)}, ExitCode.FAILURE)
    describe(report, settings.table)
    summary.update({name: step.value for name, step in report.steps().items()})
    summary["changed"] = report.changed
    if not settings.backfill:
        return finish({**summary, "ok": True}, ExitCode.OK)

    backfilled = backfill(clients, settings, report)
    summary["backfill"] = backfilled.to_dict()
    say(backfill_line(backfilled))
    if backfilled.failed:
        say(f"backfill failed: {backfilled.error}")
        say("run it again to resume: entries that exist are left alone")
        return finish({**summary, "error": backfilled.error}, ExitCode.FAILURE)
    return finish({**summary, "ok": True}, ExitCode.OK)


def backfill(clients: Clients, settings: InitSettings, report: SetupReport) -> BackfillSummary:
    """The backfill's composition root: the reconciler's event listing, the two adapters."""
    dynamodb = clients.dynamodb()
    tables = settings.table
    run = Backfill(
        DynamoAttendeeHashes(dynamodb, tables.table_name, tables.model),
        DynamoLedgerClaims(dynamodb, tables.state_table, LedgerModel()),
        settings.options,
    )
    if report.registration_table is Step.WOULD_CREATE:
        return run.run(())  # a dry run on a table that does not exist: nothing to list
    if not settings.dry_run and settings.options.settle_seconds > 0:
        say(
            f"backfill: each event's entries are claimed {settings.options.settle_seconds:g}s "
            "after its attendees were listed (records in flight reach the handler first)"
        )
    events = DynamoReconcileTable(
        dynamodb,
        tables.table_name,
        tables.model,
        ReadRateLimiter(0.0, clock=time.monotonic, sleep=time.sleep),
    )
    try:
        return run.run(_slugs(events, settings.event))
    finally:
        events.close()


def _slugs(events: DynamoReconcileTable, only: str | None) -> Iterator[str]:
    """Every event's slug, as a pass lists them (ambiguous slugs too: the ledger is per slug)."""
    if only is None:
        yield from (group.slug for group in events.events())
        return
    if events.event(only) is None:
        raise NoSuchEventError(f"no event item has the slug {only!r}")
    yield only


class NoSuchEventError(ReconcilerError):
    """``--event`` names a slug no event item has: there is no counter to keep a ledger for."""


def describe(report: SetupReport, tables: TableSettings) -> None:
    say(
        f"registration table {tables.table_name}: {_SAID[report.registration_table]}"
        + ("" if report.registration_table is Step.WOULD_CREATE else f", stream {STREAM_VIEW_TYPE}")
    )
    say(f"state table {tables.state_table}: {_SAID[report.state_table]}")
    ledger = LedgerModel()
    say(f"state table TTL on {ledger.expires_attr}: {_SAID[report.ttl]}")
    say(f"state table point-in-time recovery: {_SAID[report.point_in_time_recovery]}")
    if not report.changed:
        say("nothing to change: both tables were already set up")


def backfill_line(summary: BackfillSummary) -> str:
    if summary.dry_run:
        return (
            f"backfill (dry run): {summary.events} events, {summary.attendees} attendees "
            "listed, nothing written"
        )
    return (
        f"backfill: {summary.events} events, {summary.attendees} attendees, "
        f"{summary.entries_created} entries created, {summary.entries_existing} existing, "
        f"{summary.events_completed} events completed "
        f"({summary.seconds:.1f}s, {summary.entries_per_second:g} entries/s)"
    )


def say(line: str) -> None:
    print(f"{_PREFIX} {line}", file=sys.stderr, flush=True)


def finish(summary: dict[str, Any], code: ExitCode) -> int:
    print(json.dumps(summary, sort_keys=True), flush=True)
    return code
