"""A budgeted pass (``--max-read-units``, ``--full-sweep-every``) on the in-memory fakes: what
it recounts, what it remembers, and how successive passes cover every event."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from reconciler.kernel.model import EventKey
from reconciler.reconcile.pass_control import PassOptions
from reconciler.reconcile.reconciler import Reconciler
from reconciler.reconcile.rotation_core import Cycle, fingerprint, record_key
from tests.fakes.reconcile import FakeClock, FakeReconcileTable, RecordingAuditSink, stored_counter
from tests.fakes.rotation import FakeRotationStore
from tests.unit.reconciler_support import NO_BRAKE

DAY = 86400.0
START = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)


class Wall:
    def __init__(self) -> None:
        self.now = START

    def __call__(self) -> datetime:
        return self.now


def world(events: int = 10) -> tuple[FakeReconcileTable, list[EventKey], list[str]]:
    table = FakeReconcileTable()
    keys = [table.add_event(f"event-{i:02d}", 5) for i in range(events)]
    recounted: list[str] = []
    table.before_op = lambda op, slug: recounted.append(slug) if op == "Query" else None
    return table, keys, recounted


def budgeted(
    table: FakeReconcileTable,
    store: FakeRotationStore,
    wall: Wall,
    *,
    max_read_units: float | None = None,
    period: float | None = None,
) -> Reconciler:
    clock = FakeClock()
    return Reconciler(
        events=table,
        table=table,
        audit=RecordingAuditSink(),
        options=PassOptions(
            0.0, 1, NO_BRAKE, max_read_units=max_read_units, full_sweep_every=period
        ),
        clock=clock,
        sleep=clock.sleep,
        wall=wall,
        rotation=store,
    )


def verified(store: FakeRotationStore, table: FakeReconcileTable, keys: list[EventKey]) -> None:
    for key in keys:
        store.fingerprints[record_key(key.slug)] = fingerprint(
            stored_counter(table.events_by_key[key])
        )


def test_a_pass_without_a_budget_or_period_never_touches_the_rotation_store():
    table, _, recounted = world(3)
    store = FakeRotationStore()
    clock = FakeClock()
    reconciler = Reconciler(
        events=table,
        table=table,
        audit=RecordingAuditSink(),
        options=PassOptions(0.0, 1, NO_BRAKE),
        clock=clock,
        sleep=clock.sleep,
        wall=Wall(),
        rotation=store,
    )
    summary = reconciler.run_pass()
    assert summary.rotation is None
    assert store.requests == {}
    assert len(recounted) == 3


def test_changed_events_are_recounted_then_the_period_s_share_of_the_rest():
    # GIVEN ten verified events, one of which the handler has moved since, and a cycle whose
    # last pass was a fifth of the period ago
    table, keys, recounted = world(10)
    store = FakeRotationStore()
    verified(store, table, keys)
    table.handler_add(keys[7], 1)
    table.attendees["event-07"] += 1
    wall = Wall()
    store.cycles["all"] = Cycle(events=10, last_pass_at=(wall.now.timestamp() - DAY / 5))
    # WHEN a pass with --full-sweep-every 1d runs
    summary = budgeted(table, store, wall, period=DAY).run_pass()
    # THEN the changed event and the quota's share (ceil(10 * 0.2 * 1.1) = 3) were recounted
    report = summary.rotation
    assert report is not None
    assert (report.quota, report.changed, report.rotated, report.deferred) == (3, 1, 3, 6)
    assert sorted(recounted) == ["event-00", "event-01", "event-02", "event-07"]
    assert store.cycles["all"].cursor == "event-02"
    # AND the changed event, found in sync, is recorded with its new fingerprint
    assert store.fingerprints[record_key("event-07")] == fingerprint(
        stored_counter(table.events_by_key[keys[7]])
    )
    assert report.recorded == 1


def test_successive_passes_cover_every_event_and_mark_the_cycle_complete():
    table, keys, recounted = world(10)
    store = FakeRotationStore()
    wall = Wall()
    reconciler = budgeted(table, store, wall, period=DAY)
    first = reconciler.run_pass()  # no history: everything, and the cycle is complete
    assert first.rotation is not None
    assert first.rotation.cycle_completed
    assert sorted(recounted) == [k.slug for k in keys]
    assert len(store.fingerprints) == 10
    recounted.clear()
    completed = []
    for _ in range(8):
        wall.now += timedelta(hours=4)  # a sixth of the period: ceil(10 / 6 * 1.1) = 2 each
        summary = reconciler.run_pass()
        assert summary.rotation is not None
        completed.append(summary.rotation.cycle_completed)
    assert recounted[:10] == sorted(k.slug for k in keys)
    assert completed.index(True) == 4  # 10 events, 2 per pass: the fifth pass wraps
    report = summary.rotation
    assert report.oldest_verification_age_seconds is not None
    assert report.oldest_verification_age_seconds <= DAY


def test_a_hand_edit_that_kept_the_version_is_repaired_even_with_the_budget_spent():
    table, keys, _ = world(4)
    store = FakeRotationStore()
    verified(store, table, keys)
    table.events_by_key[keys[2]].count = 25  # an operator "fixes" it; no version bump
    summary = budgeted(table, store, Wall(), max_read_units=0.001).run_pass()
    assert summary.rotation is not None
    # Nothing is spent before the first event is handed out: one rotation recount may start.
    assert summary.rotation.changed == 1
    assert summary.rotation.rotated <= 1
    assert summary.rotation.budget_exhausted is True
    assert summary.corrected == 1
    assert table.count_of(keys[2]) == 5


def test_the_read_budget_stops_the_rotation_within_the_work_already_in_flight():
    table, keys, recounted = world(20)
    store = FakeRotationStore()
    verified(store, table, keys)
    summary = budgeted(table, store, Wall(), max_read_units=6.0).run_pass()
    # Each recount costs 2 units (GetItem + Query); at most two events are in flight when the
    # budget is checked (concurrency 1), so 3 to 5 events are recounted, never all 20.
    assert summary.rotation is not None
    assert 3 <= summary.rotation.rotated <= 5
    assert summary.rotation.budget_exhausted is True
    assert recounted == [k.slug for k in keys[: len(recounted)]]


def test_records_of_deleted_events_are_removed():
    table, keys, _ = world(3)
    store = FakeRotationStore()
    verified(store, table, keys)
    store.fingerprints[record_key("gone-event")] = "number:1:1"
    summary = budgeted(table, store, Wall(), period=DAY).run_pass()
    assert summary.rotation is not None
    assert summary.rotation.stale_removed == 1
    assert record_key("gone-event") not in store.fingerprints


def test_a_cursor_saved_by_another_replica_meanwhile_stands():
    table, _, _ = world(3)
    store = FakeRotationStore()
    other = Cycle(cursor="event-01", revision=7)

    def another_replica_saves(op: str, _slug: str) -> None:
        if op == "Query":
            store.cycles["all"] = other

    table.before_op = another_replica_saves
    summary = budgeted(table, store, Wall(), period=DAY).run_pass()
    assert summary.rotation is not None
    assert summary.rotation.cursor_saved is False
    assert store.cycles["all"] == other
