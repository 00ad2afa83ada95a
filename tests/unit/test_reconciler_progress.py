"""What a pass tells its progress port, on in-memory fakes: the sweep, the settle wait, the
second looks and the writes, in that order, with the figures a display needs."""

from __future__ import annotations

from reconciler.reconcile.core import BrakePolicy
from reconciler.reconcile.scan_core import SweepMode
from tests.fakes.progress import RecordingProgress
from tests.fakes.reconcile import FakeReconcileTable
from tests.unit.reconciler_support import SETTLE, build


def drifted_table(drifted: int, exact: int) -> FakeReconcileTable:
    table = FakeReconcileTable()
    for i in range(drifted):
        table.add_event(f"drifted{i}", 0, attendees=2)
    for i in range(exact):
        table.add_event(f"exact{i}", 3)
    return table


def test_a_pass_reports_sweep_then_settle_then_second_looks_then_writes():
    reconciler, _, _ = build(drifted_table(drifted=2, exact=3))
    progress = RecordingProgress()
    reconciler.run_pass(progress=progress)
    assert progress.names() == [
        "sweep_started",
        "event_checked",
        "settle_started",
        "settling",
        "suspect_rechecked",
        "writes_started",
        "correction_done",
    ]
    assert progress.count("event_checked") == 5
    assert progress.args("settle_started") == [(2, SETTLE)]
    assert progress.count("suspect_rechecked") == 2
    assert progress.args("writes_started") == [(2, None)]
    assert progress.count("correction_done") == 2


def test_the_settle_countdown_starts_at_the_window_and_counts_down():
    reconciler, _, _ = build(drifted_table(drifted=1, exact=0))
    progress = RecordingProgress()
    reconciler.run_pass(progress=progress)
    remaining = [args[0] for args in progress.args("settling")]
    assert remaining[0] == SETTLE
    assert remaining == sorted(remaining, reverse=True)
    assert len(remaining) >= SETTLE - 1  # about once a second, never silent


def test_a_dry_run_reports_its_corrections_as_held():
    reconciler, _, _ = build(drifted_table(drifted=2, exact=1), dry_run=True)
    progress = RecordingProgress()
    reconciler.run_pass(progress=progress)
    assert progress.args("writes_started") == [(2, "dry_run")]
    assert progress.count("correction_done") == 2


def test_a_tripped_brake_reports_its_corrections_as_braked():
    brake = BrakePolicy(max_corrections=1, max_ratio=1.0, min_events_for_ratio=1000)
    reconciler, _, _ = build(drifted_table(drifted=2, exact=0), brake=brake)
    progress = RecordingProgress()
    reconciler.run_pass(progress=progress)
    assert progress.args("writes_started") == [(2, "braked")]


def test_a_pass_with_nothing_drifted_reports_no_settle_wait():
    reconciler, _, _ = build(drifted_table(drifted=0, exact=3))
    progress = RecordingProgress()
    reconciler.run_pass(progress=progress)
    assert progress.args("settle_started") == [(0, SETTLE)]
    assert progress.count("settling") == 0
    assert progress.args("writes_started") == [(0, None)]


def test_the_sweep_of_one_event_knows_its_total_before_the_first_look():
    reconciler, _, _ = build(drifted_table(drifted=1, exact=2), event="exact1")
    progress = RecordingProgress()
    reconciler.run_pass(progress=progress)
    assert progress.calls[0] == ("sweep_started", (1,))
    assert progress.count("event_checked") == 1


def test_the_scan_sweep_reports_its_total_once_the_table_is_read():
    reconciler, _, _ = build(drifted_table(drifted=1, exact=4), sweep=SweepMode.SCAN)
    progress = RecordingProgress()
    reconciler.run_pass(progress=progress)
    assert progress.names()[:3] == ["sweep_started", "sweep_total", "event_checked"]
    assert progress.args("sweep_total") == [(5,)]
    assert progress.count("event_checked") == 5
