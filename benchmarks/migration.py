"""The ledger's roll-out on a table the old handler wrote, with the numbers to quote.

    python -m benchmarks.migration                       # 12 events x 20 attendees
    python -m benchmarks.migration --events 30 --attendees 40

Plays ``tests/integration/migration_world.py`` (the steps ``tests/integration/test_migration.py``
asserts) on a local moto server: the old handler counts registrations through the local event
source mapping, two batches are dropped and one event's ``counterSeq`` is set too high; then
``reconciler init``, the switch to our handler (the batch in flight delivered to it again),
``reconciler init --backfill`` beside live traffic, and ``reconciler run`` passes until every
counter is exact. Prints a table and the report as one JSON line. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import uuid

from benchmarks.handler import delayed_moto, local_clients
from reconciler.kernel.logs import configure_logging
from tests.integration.migration_world import Migration, MigrationReport


def table_markdown(report: MigrationReport) -> str:
    rows = [
        ("events", report.events),
        ("attendee items at the end", report.attendees),
        ("drift before (sum over the events of the gap, stored vs true)", report.drift_before),
        ("events drifted before", report.drifted_events_before),
        ("counted again at the switch (the batch in flight)", report.recounted_at_switch),
        ("drift after the switch", report.drift_after_switch),
        ("entries created by the backfill", report.entries_created),
        ("entries the live handler had written first", report.entries_existing),
        ("run passes needed", report.passes_needed),
        ("drift after", report.drift_after),
        ("every counter exact", "yes" if report.exact_after else "NO"),
    ]
    lines = ["| | |", "|---|---|", *(f"| {name} | {value} |" for name, value in rows)]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.migration", description=__doc__)
    parser.add_argument("--events", type=int, default=12)
    parser.add_argument("--attendees", type=int, default=20, help="per event, before the switch")
    parser.add_argument("--settle-seconds", type=float, default=2.0, help="the backfill's")
    args = parser.parse_args(argv)
    # Never an AWS account: dummy credentials, and every client points at the local server.
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        os.environ[name] = "migration"
    os.environ["AWS_DEFAULT_REGION"] = "us-east-1"
    os.environ.pop("AWS_PROFILE", None)
    with delayed_moto(0) as endpoint:
        os.environ["AWS_ENDPOINT_URL"] = endpoint
        configure_logging("json", "warning", stream=io.StringIO())
        world = Migration(
            local_clients(endpoint),
            f"registrations-{uuid.uuid4().hex[:8]}",
            endpoint,
            events=args.events,
        )
        report = world.roll_out(args.attendees, args.settle_seconds)
    print(table_markdown(report))
    print(json.dumps(report.to_dict()))
    return 0 if report.exact_after else 1


if __name__ == "__main__":
    raise SystemExit(main())
