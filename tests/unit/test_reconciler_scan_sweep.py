"""The scan sweep on in-memory fakes: the table is read once, only what it finds out of sync is
looked at again, and traffic during the scan is never mistaken for drift."""

from __future__ import annotations

from reconciler.reconcile.core import Shard
from reconciler.reconcile.scan_core import SCAN_MIN_EVENTS, SweepMode
from tests.fakes.reconcile import MISSING, FakeReconcileTable
from tests.unit.reconciler_support import build


def test_a_scan_pass_corrects_exactly_the_drifted_events_and_reads_no_counter_of_the_others():
    table = FakeReconcileTable()
    for i in range(6):
        table.add_event(f"fine{i}", i)
    high = table.add_event("high", 9, attendees=7)
    unset = table.add_event("unset", MISSING, attendees=2)
    reconciler, audit, _ = build(table, sweep=SweepMode.SCAN)
    summary = reconciler.run_pass()
    assert summary.sweep == "scan"
    assert (table.count_of(high), table.count_of(unset)) == (7, 2)
    assert {r.slug for r in audit.records} == {"high", "unset"}
    assert (summary.events_checked, summary.in_sync, summary.scanned_in_sync) == (8, 6, 6)
    assert (summary.drifted, summary.missing, summary.corrected) == (1, 1, 2)
    # Two looks (a counter read and a count each) for the two suspects, nothing for the rest.
    assert (table.requests["GetItem"], table.requests["Query"]) == (4, 4)
    assert table.requests["Scan"] > 0


def test_orphan_attendees_are_ignored_and_ambiguous_events_are_flagged_not_corrected():
    table = FakeReconcileTable()
    table.attendees["orphan"] = 3
    table.add_event("dup", 5, attendees=1, partition="FAD")
    table.add_event("dup", 5, attendees=1, partition="EVENT")
    table.add_event("fine", 2)
    reconciler, _, _ = build(table, sweep=SweepMode.SCAN)
    summary = reconciler.run_pass()
    assert (summary.events_checked, summary.ambiguous, summary.in_sync) == (2, 1, 1)
    assert table.writes == []


def test_a_registration_applied_between_the_scans_two_reads_of_an_event_is_never_drift():
    # The scan reads the attendee items first, then a registration lands and the handler applies
    # it before the scan reaches the event item: the scan's pair is skewed by one. Were the scan
    # the first look, a cancellation during the settle window would make the second look agree
    # with that pair and the write would undo the registration; the event's own first look
    # (counter, then count) finds it in sync instead.
    table = FakeReconcileTable(attendees_first=True)
    key = table.add_event("hot", 2)

    def register_mid_scan(operation: str, slug: str) -> None:
        if operation == "ScanRest" and slug == "hot" and table.attendees["hot"] == 2:
            table.attendees["hot"] += 1
            table.handler_add(key, +1)

    table.before_op = register_mid_scan
    reconciler, _, clock = build(table, sweep=SweepMode.SCAN, concurrency=1)
    clock.on_sleep = lambda _now: table.attendees.update({"hot": -1})  # cancelled, not applied
    summary = reconciler.run_pass()
    assert table.writes == []
    assert (summary.in_sync, summary.scanned_in_sync, summary.drifted) == (1, 0, 0)
    assert table.count_of(key) == table.attendees["hot"] == 3


def test_traffic_between_the_scan_and_the_second_look_leaves_a_drifted_event_in_flux():
    table = FakeReconcileTable()
    key = table.add_event("busy", 10, attendees=8)
    reconciler, _, clock = build(table, sweep=SweepMode.SCAN)

    def register_during_settle(_now: float) -> None:
        if table.attendees["busy"] == 8:
            table.attendees["busy"] += 1
            table.handler_add(key, +1)

    clock.on_sleep = register_during_settle
    summary = reconciler.run_pass()
    assert (summary.drifted, summary.in_flux, summary.corrected) == (1, 1, 0)
    assert table.writes == []


def test_event_and_shard_take_the_query_sweep_even_when_a_scan_is_asked_for():
    table = FakeReconcileTable()
    table.add_event("tech", 1)
    for options in ({"event": "tech"}, {"shard": Shard(0, 1)}):
        reconciler, _, _ = build(table, sweep=SweepMode.SCAN, **options)  # type: ignore[arg-type]
        assert reconciler.run_pass().sweep == "query"
    assert table.requests["Scan"] == 0


def test_auto_queries_a_table_of_few_events_without_scanning_it():
    table = FakeReconcileTable()
    table.add_event("tech", 1, attendees=2)
    reconciler, _, _ = build(table, sweep=SweepMode.AUTO)
    summary = reconciler.run_pass()
    assert summary.sweep == "query"
    assert summary.drifted == 1
    assert table.requests["Scan"] == 0


def test_auto_scans_many_small_events():
    table = FakeReconcileTable()
    for i in range(SCAN_MIN_EVENTS):
        table.add_event(f"e{i:04d}", 3)
    reconciler, _, _ = build(table, sweep=SweepMode.AUTO, concurrency=4)
    summary = reconciler.run_pass()
    assert (summary.sweep, summary.scanned_in_sync) == ("scan", SCAN_MIN_EVENTS)
    assert table.requests["GetItem"] == 0


def test_a_stop_asked_for_during_the_scan_ends_the_pass_early_with_nothing_written():
    table = FakeReconcileTable()
    for i in range(20):
        table.add_event(f"e{i:02d}", 5, attendees=4)
    scanned: list[str] = []
    table.before_op = lambda op, slug: scanned.append(slug) if op == "Scan" else None
    reconciler, _, _ = build(table, sweep=SweepMode.SCAN)
    from reconciler.reconcile.pass_control import PassControl

    summary = reconciler.run_pass(PassControl(should_stop=lambda: len(scanned) >= 3))
    assert summary.stopped_on_purpose
    assert table.writes == []
    assert summary.events_checked == 0
