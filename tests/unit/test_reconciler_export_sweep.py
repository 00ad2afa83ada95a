"""A pass whose first look comes from an export snapshot (``run --from-export``), on fakes."""

from __future__ import annotations

from datetime import datetime, timedelta

from reconciler.kernel.model import EventKey
from reconciler.reconcile.export_core import InSyncEvents, SnapshotRow, SnapshotRows
from reconciler.reconcile.export_manifest import ExportSummary, Manifest
from reconciler.reconcile.export_sweep import ExportSweep, monotonic_at
from reconciler.reconcile.progress import NO_PROGRESS, PassProgress
from reconciler.reconcile.reconciler import PassOptions, Reconciler
from reconciler.reconcile.scan_core import SweepMode
from reconciler.reconcile.summary import PassSummary
from tests.fakes.progress import RecordingProgress
from tests.fakes.reconcile import (
    FakeClock,
    FakeReconcileTable,
    RecordingAuditSink,
    stored_counter,
)
from tests.fakes.reconcile_ledger import FakeLedger
from tests.unit.reconciler_support import NO_BRAKE, SETTLE, WALL


class FakeSnapshot:
    """The fake table's contents frozen at one instant, as an export would hold them; with
    ``event``, that slug alone, as every engine reads a source built for one ``--event``."""

    export_id = "01700000000000-abcdef12"

    def __init__(
        self, table: FakeReconcileTable, exported: datetime, event: str | None = None
    ) -> None:
        self.exported = exported
        self.rows: list[SnapshotRow | InSyncEvents] = [
            SnapshotRow(key.slug, (key,), stored_counter(event_item), table.attendees[key.slug])
            for key, event_item in sorted(
                table.events_by_key.items(), key=lambda kv: kv[0].sort_key
            )
            if event is None or key.slug == event
        ]
        self.opened = 0

    def open(self) -> tuple[Manifest, SnapshotRows]:
        self.opened += 1
        summary = ExportSummary(self.exported, len(self.rows), "DYNAMODB_JSON")
        return Manifest(summary, ()), iter(self.rows)


def _world() -> tuple[FakeReconcileTable, dict[str, EventKey]]:
    table = FakeReconcileTable()
    keys = {
        "gala": table.add_event("gala", 3),
        "expo": table.add_event("expo", 5, attendees=2),
        "talk": table.add_event("talk", 1, attendees=4),
        "late": table.add_event("late", 0, attendees=2),
    }
    return table, keys


def _run(
    table: FakeReconcileTable,
    snapshot: FakeSnapshot,
    clock: FakeClock,
    *,
    event: str | None = None,
    progress: PassProgress = NO_PROGRESS,
    ledger: FakeLedger | None = None,
) -> tuple[PassSummary, list[tuple[str, float]]]:
    """The summary, and every table request with the monotonic time it was made."""
    reads_at: list[tuple[str, float]] = []
    audit = RecordingAuditSink()
    table.before_op = lambda operation, slug: reads_at.append((operation, clock()))
    reconciler = Reconciler(
        events=table,
        table=table,
        audit=audit,
        options=PassOptions(SETTLE, 2, NO_BRAKE, False, event, None, SweepMode.QUERY),
        clock=clock,
        sleep=clock.sleep,
        wall=lambda: WALL,
        export=ExportSweep(snapshot, clock=clock, wall=lambda: WALL),
        ledger=ledger,
        key_audit=audit,
    )
    summary = reconciler.run_pass(progress=progress)
    table.before_op = None
    return summary, reads_at


def test_the_sweep_reads_nothing_and_only_agreeing_suspects_are_corrected() -> None:
    table, keys = _world()
    snapshot = FakeSnapshot(table, WALL - timedelta(seconds=30))
    # After the export: two registrations on "late", applied by the handler (version moves).
    table.attendees["late"] += 2
    table.handler_add(keys["late"], 2)
    clock = FakeClock()
    summary, reads = _run(table, snapshot, clock)
    due = 1000.0 + SETTLE - 30
    assert sorted(op for op, _ in reads if op != "UpdateItem") == ["GetItem"] * 3 + ["Query"] * 3
    assert all(at >= due for _, at in reads)
    assert sum(clock.slept) == SETTLE - 30
    assert {c.key.slug: c.counted for c in table.writes} == {"expo": 2, "talk": 4}
    assert table.count_of(keys["late"]) == 2
    assert summary.sweep == "export"
    assert summary.events_checked == 4
    assert (summary.in_sync, summary.drifted, summary.in_flux, summary.corrected) == (1, 3, 1, 2)
    assert summary.io.read_units == 6  # the live looks at three suspects, nothing else
    assert summary.export == {
        "id": FakeSnapshot.export_id,
        "time": snapshot.exported.isoformat(timespec="milliseconds"),
        "items": 4,
        "events": 4,
        "suspects": 3,
    }


def test_an_export_older_than_the_settle_window_is_confirmed_without_waiting() -> None:
    table, _ = _world()
    snapshot = FakeSnapshot(table, WALL - timedelta(hours=1))
    clock = FakeClock()
    summary, _ = _run(table, snapshot, clock)
    assert clock.slept == []
    assert summary.corrected == 3
    assert table.requests["ListEvents"] == table.requests["FindEvent"] == 0


def test_one_event_of_an_export_reads_only_that_suspect() -> None:
    table, keys = _world()
    snapshot = FakeSnapshot(table, WALL - timedelta(hours=1), event="talk")
    summary, _ = _run(table, snapshot, FakeClock(), event="talk")
    assert summary.events_checked == 1
    assert [c.key for c in table.writes] == [keys["talk"]]
    assert table.requests["GetItem"] == 1


def test_a_person_sees_the_export_sweep_as_a_sweep_whose_total_comes_at_its_end() -> None:
    table, _ = _world()
    progress = RecordingProgress()
    _run(table, FakeSnapshot(table, WALL - timedelta(hours=1)), FakeClock(), progress=progress)
    assert progress.names()[:4] == [
        "sweep_started",
        "event_checked",
        "sweep_total",
        "settle_started",
    ]
    assert ("sweep_total", (4,)) in progress.calls


def test_a_ledger_event_the_export_suspects_is_checked_live_by_the_ledger_path() -> None:
    table, _ = _world()
    ledger = FakeLedger(table)
    hall = ledger.ledger_event("hall", 3)
    table.events_by_key[hall].count = 5  # the counter drifted from its three ledger entries
    snapshot = FakeSnapshot(table, WALL - timedelta(hours=1))
    summary, _ = _run(table, snapshot, FakeClock(), ledger=ledger)
    assert table.count_of(hall) == 3
    assert summary.counter_repairs == 1
    assert hall not in {c.key for c in table.writes}  # not the classic recount's write
    assert {c.key.slug for c in table.writes} == {"expo", "talk", "late"}
    assert ledger.requests["Backfilled"] == 4  # asked of the suspects only, not of "gala"


def test_the_export_instant_lands_on_the_monotonic_clock_by_its_age() -> None:
    assert monotonic_at(export_time=970.0, now_monotonic=50.0, now_wall=1000.0) == 20.0


def test_events_the_engine_counted_in_sync_are_checked_in_sync_without_a_look() -> None:
    # GIVEN an engine that counted 1,000 more events in sync besides the listed slugs
    table, _ = _world()
    snapshot = FakeSnapshot(table, WALL - timedelta(hours=1))
    snapshot.rows.insert(0, InSyncEvents(1000))
    progress = RecordingProgress()
    # WHEN the pass runs
    summary, reads = _run(table, snapshot, FakeClock(), progress=progress)
    # THEN they count as checked and in sync, and only the listed suspects are read live
    assert (summary.events_checked, summary.in_sync, summary.corrected) == (1004, 1001, 3)
    assert summary.export is not None
    assert summary.export["events"] == 1004
    assert ("event_checked", (1000,)) in progress.calls
    assert ("sweep_total", (1004,)) in progress.calls
    assert len([op for op, _ in reads if op == "GetItem"]) == 3
