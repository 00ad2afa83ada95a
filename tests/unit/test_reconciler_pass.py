"""What one pass finds and does, on in-memory fakes: exact counters are left alone, drift is
corrected only after the settle window and a recheck, and a look the handler overtook (an
update in flight, racing the write, or landing between the two reads) never becomes a write.
"""

from __future__ import annotations

from reconciler.cli.run import exit_code
from reconciler.kernel.errors import ConflictError
from tests.fakes.reconcile import MISSING, FakeClock, FakeReconcileTable
from tests.unit.reconciler_support import SETTLE, build


def test_counters_in_sync_are_left_alone_and_nobody_waits():
    table = FakeReconcileTable()
    for i in range(5):
        table.add_event(f"e{i}", i)
    reconciler, audit, clock = build(table)
    summary = reconciler.run_pass(run_id="r1")
    assert summary.events_checked == 5
    assert summary.in_sync == 5
    assert summary.drifted == 0
    assert table.writes == []
    assert audit.records == []
    assert clock.slept == []
    assert exit_code(summary) == 0


def test_drift_in_both_directions_is_corrected_after_the_settle_window():
    # GIVEN one counter too high and one too low
    table = FakeReconcileTable()
    high = table.add_event("high", 12, attendees=10)
    low = table.add_event("low", 4, attendees=7)
    table.add_event("fine", 3)
    reconciler, audit, clock = build(table)
    start = clock.now
    # WHEN a pass runs
    summary = reconciler.run_pass(run_id="r1")
    # THEN both are exact, and the summary says what drifted and how
    assert table.count_of(high) == 10
    assert table.count_of(low) == 7
    assert (summary.drifted, summary.corrected, summary.in_sync) == (2, 2, 1)
    assert (summary.drift_over, summary.drift_attendees_over) == (1, 2)
    assert (summary.drift_under, summary.drift_attendees_under) == (1, 3)
    assert clock.now - start >= SETTLE
    assert {(r.slug, r.stored, r.counted, r.delta, r.outcome) for r in audit.records} == {
        ("high", 12, 10, -2, "applied"),
        ("low", 4, 7, 3, "applied"),
    }
    assert all(r.run_id == "r1" and r.reason == "drift" for r in audit.records)


def test_recheck_happens_no_sooner_than_the_settle_window_after_the_first_look():
    table = FakeReconcileTable()
    table.add_event("tech", 5, attendees=6)
    clock = FakeClock()
    reads: list[float] = []
    table.before_op = lambda op, slug: reads.append(clock.now) if op == "GetItem" else None
    reconciler, _, _ = build(table, clock=clock)
    reconciler.run_pass()
    assert len(reads) == 2
    assert reads[1] - reads[0] >= SETTLE


def test_a_record_in_flight_at_the_first_look_is_not_corrected():
    # GIVEN an attendee written but not yet applied by the handler (stored 4, counted 5)
    table = FakeReconcileTable()
    key = table.add_event("tech", 4, attendees=5)
    clock = FakeClock()
    # WHEN the handler applies it while the pass waits for the settle window
    delivered: list[bool] = []

    def deliver(_now: float) -> None:
        if not delivered:
            table.handler_add(key, +1)
            delivered.append(True)

    clock.on_sleep = deliver
    reconciler, audit, _ = build(table, clock=clock)
    summary = reconciler.run_pass()
    # THEN the pass sees the change, writes nothing, and the count is exact (once, not twice)
    assert summary.in_flux == 1
    assert summary.corrected == 0
    assert table.writes == []
    assert table.count_of(key) == 5
    assert audit.records == []


def test_a_handler_update_racing_the_write_makes_it_a_conflict_and_keeps_the_update():
    table = FakeReconcileTable()
    key = table.add_event("tech", 9, attendees=7)

    def race(op: str, _slug: str) -> None:
        if op == "UpdateItem":
            table.attendees["tech"] += 1
            table.handler_add(key, +1)

    table.before_op = race
    reconciler, audit, _ = build(table)
    summary = reconciler.run_pass()
    assert summary.conflicts == 1
    assert summary.corrected == 0
    assert table.count_of(key) == 10  # the handler's +1 survived; next pass fixes the drift
    assert [r.outcome for r in audit.records] == ["conflict"]


def test_reading_the_counter_before_counting_makes_an_early_delivery_harmless():
    # GIVEN an exact counter (3). Between the two calls of the first look, attendee X
    # registers and the handler applies it at once; just before the recheck, attendee Y
    # leaves, and that record is still in flight when the pass writes.
    table = FakeReconcileTable()
    key = table.add_event("tech", 3, attendees=3)
    calls: list[str] = []

    def traffic(op: str, _slug: str) -> None:
        if op not in ("GetItem", "Query"):
            return
        calls.append(op)
        if len(calls) == 2:  # X: written and applied between the first look's two reads
            table.attendees["tech"] += 1
            table.handler_add(key, +1)
        if len(calls) == 3:  # Y: written before the recheck, applied only after the pass
            table.attendees["tech"] -= 1

    table.before_op = traffic
    reconciler, _, _ = build(table)
    reconciler.run_pass()
    table.handler_add(key, -1)  # Y lands
    # THEN nothing was written from the inconsistent first look, and the count is exact.
    # (Counting first would have seen count 3 / stored 4, confirmed it, written 3, and Y
    # would then have taken the counter to 2.)
    assert table.writes == []
    assert table.count_of(key) == table.attendees["tech"] == 3


def test_a_missing_counter_is_initialized():
    table = FakeReconcileTable()
    key = table.add_event("tech", MISSING, attendees=4, version=None)
    reconciler, audit, _ = build(table)
    summary = reconciler.run_pass()
    assert table.count_of(key) == 4
    assert table.events_by_key[key].version == 1
    assert (summary.initialized, summary.corrected, summary.drifted) == (1, 1, 0)
    assert summary.missing == 1
    assert audit.records[0].reason == "missing"
    assert audit.records[0].stored is None
    assert audit.records[0].delta == 4


def test_a_non_numeric_counter_is_corrected_and_its_old_value_kept_in_the_audit():
    table = FakeReconcileTable()
    key = table.add_event("tech", "ten", attendees=3)
    reconciler, audit, _ = build(table)
    summary = reconciler.run_pass()
    assert table.count_of(key) == 3
    assert (summary.invalid, summary.corrected) == (1, 1)
    record = audit.records[0]
    assert record.reason == "invalid"
    assert record.stored_raw == '{"S":"ten"}'
    assert record.delta is None


def test_ambiguous_slugs_are_reported_never_read_or_corrected():
    table = FakeReconcileTable()
    table.add_event("tech", 1, attendees=5, partition="FAD")
    table.add_event("tech", 2, attendees=5, partition="EVENT")
    table.add_event("other", 1)
    reconciler, _, _ = build(table)
    summary = reconciler.run_pass()
    assert summary.ambiguous == 1
    assert summary.events_checked == 2
    assert table.writes == []
    assert table.requests["GetItem"] == 1  # only "other"


def test_an_event_deleted_during_the_pass_is_counted_as_vanished():
    table = FakeReconcileTable()
    key = table.add_event("tech", 0)
    table.before_op = lambda op, _slug: table.events_by_key.pop(key) if op == "GetItem" else None
    reconciler, _, _ = build(table)
    summary = reconciler.run_pass()
    assert summary.vanished == 1
    assert summary.failed is False


def test_an_unreadable_version_is_reported_and_replaced_with_an_integer_once_confirmed():
    table = FakeReconcileTable()
    key = table.add_event("tech", 0, attendees=3)
    table.events_by_key[key].version_raw = "v7"
    reconciler, audit, _ = build(table)
    summary = reconciler.run_pass()
    assert (summary.unsupported, summary.versions_replaced, summary.corrected) == (1, 1, 1)
    assert table.count_of(key) == 3
    assert (table.events_by_key[key].version, table.events_by_key[key].version_raw) == (1, None)
    assert table.writes[0].stored.version_raw == '{"S":"v7"}'
    assert audit.records[-1].outcome == "applied"


def test_an_unreadable_version_on_an_exact_count_is_still_replaced():
    table = FakeReconcileTable()
    key = table.add_event("tech", 3, attendees=3)
    table.events_by_key[key].version_raw = "v7"
    reconciler, audit, _ = build(table)
    summary = reconciler.run_pass()
    assert (summary.in_sync, summary.unsupported, summary.versions_replaced) == (0, 1, 1)
    assert table.events_by_key[key].version == 1
    assert audit.records[-1].reason == "invalid_version"


def test_an_unreadable_version_that_changes_between_the_looks_is_not_written():
    table = FakeReconcileTable()
    key = table.add_event("tech", 0, attendees=3)
    table.events_by_key[key].version_raw = "v7"
    clock = FakeClock()
    clock.on_sleep = lambda _s: setattr(table.events_by_key[key], "version_raw", "v8")
    reconciler, _, _ = build(table, clock=clock)
    summary = reconciler.run_pass()
    assert (summary.in_flux, summary.corrected) == (1, 0)
    assert table.writes == []


def test_a_refused_write_that_reads_back_as_written_counts_as_applied():
    # botocore retried a write whose first response was lost: the retry's condition refused it.
    table = FakeReconcileTable()
    key = table.add_event("tech", 1, attendees=4)

    def lose_the_response(_correction: object) -> None:
        raise ConflictError("UpdateItem: condition failed (the retry)")

    table.after_write = lose_the_response
    reconciler, audit, _ = build(table)
    summary = reconciler.run_pass()
    assert (summary.corrected, summary.conflicts, summary.lost_responses) == (1, 0, 1)
    assert audit.records[-1].outcome == "applied"
    assert table.count_of(key) == 4


def test_a_refused_write_the_item_does_not_hold_stays_a_conflict():
    table = FakeReconcileTable()
    key = table.add_event("tech", 1, attendees=4)
    table.before_op = lambda op, _slug: table.handler_add(key, 1) if op == "UpdateItem" else None
    reconciler, audit, _ = build(table)
    summary = reconciler.run_pass()
    assert (summary.corrected, summary.conflicts, summary.lost_responses) == (0, 1, 0)
    assert audit.records[-1].outcome == "conflict"
