"""An export written from a moto table's live contents, recounted by DuckDB and confirmed live."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.devtools.export_writer import GeneratedExport, export_table
from reconciler.kernel.aws import Clients
from reconciler.kernel.model import EventKey
from reconciler.reconcile.core import Observation, Recheck, confirm
from reconciler.reconcile.dynamo import DynamoReconcileTable
from reconciler.reconcile.export_core import SnapshotTally, Suspect, suspects
from reconciler.reconcile.export_duckdb import DuckDbExportReader, load_local_export
from reconciler.reconcile.ratelimit import ReadRateLimiter
from tests.fakes.reconcile import FakeClock
from tests.integration.traffic import MODEL, Table

SETTLE = 5.0
EXPORTED = datetime(2026, 6, 1, 12, 0, tzinfo=UTC)
# (slug, stored counter, attendees): ``None`` stores no counter at all.
SEEDED = [("gala", 3, 3), ("expo", 5, 2), ("talk", None, 1), ("meetup", 0, 4), ("quiet", 0, 0)]


@pytest.fixture
def table(clients: Clients, table_name: str) -> Table:
    table = Table(clients, table_name)
    for slug, counter, attendees in SEEDED:
        table.put_event(EventKey("FAD", f"{slug}#2026-06-01"), counter)
        for number in range(attendees):
            table.register(slug, f"guest{number}@example.test")
    table.register("orphan", "nobody@example.test")
    return table


@pytest.fixture
def adapter(table: Table) -> Iterator[DynamoReconcileTable]:
    clock = FakeClock()
    limiter = ReadRateLimiter(0, clock=clock, sleep=clock.sleep)
    adapter = DynamoReconcileTable(table.ddb, table.name, MODEL, limiter)
    yield adapter
    adapter.close()


def _suspects(export: GeneratedExport) -> dict[str, Suspect]:
    manifest, paths = load_local_export(export.directory)
    rows = DuckDbExportReader(MODEL).snapshot(paths, manifest)
    return {suspect.row.slug: suspect for suspect in suspects(rows, SnapshotTally())}


def _live_look(adapter: DynamoReconcileTable, suspect: Suspect, at: float) -> Observation:
    stored = adapter.read_counter(suspect.key)
    return Observation(suspect.key, stored, adapter.count_attendees(suspect.row.slug), at)


def test_an_export_of_the_live_table_finds_exactly_the_seeded_drift(
    table: Table, tmp_path: Path
) -> None:
    export = export_table(tmp_path, table.ddb, table.name, files=3, export_time=EXPORTED)
    assert export.drifted == {"expo", "talk", "meetup"}
    assert export.counts == {"gala": 3, "expo": 2, "talk": 1, "meetup": 4, "quiet": 0}
    found = _suspects(export)
    assert set(found) == export.drifted
    assert {slug: s.row.counted for slug, s in found.items()} == {"expo": 2, "talk": 1, "meetup": 4}


def test_an_event_written_between_the_export_and_the_live_look_is_never_corrected(
    table: Table, adapter: DynamoReconcileTable, tmp_path: Path
) -> None:
    export = export_table(tmp_path, table.ddb, table.name, files=2, export_time=EXPORTED)
    found = _suspects(export)
    # After the export: a registration on "meetup", its counter updated as the handler does.
    table.register("meetup", "late@example.test")
    table.ddb.update_item(
        TableName=table.name,
        Key={"pk": {"S": "FAD"}, "sk": {"S": "meetup#2026-06-01"}},
        UpdateExpression="ADD attendeeCount :one, counterVersion :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    exported = EXPORTED.timestamp()
    started = exported + SETTLE + (timedelta(minutes=1)).total_seconds()
    verdicts = {}
    for slug, suspect in found.items():
        first = Observation(suspect.key, suspect.row.stored, suspect.row.counted, exported)
        recheck, correction = confirm(first, _live_look(adapter, suspect, started))
        verdicts[slug] = recheck
        if correction is not None:
            adapter.write_correction(correction)
    assert verdicts == {
        "expo": Recheck.CONFIRMED,
        "talk": Recheck.CONFIRMED,
        "meetup": Recheck.IN_FLUX,
    }
    assert table.stored(EventKey("FAD", "expo#2026-06-01")) == table.true_count("expo") == 2
    assert table.stored(EventKey("FAD", "talk#2026-06-01")) == table.true_count("talk") == 1
    assert table.stored(EventKey("FAD", "meetup#2026-06-01")) == 1
