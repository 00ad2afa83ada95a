"""How a pass is steered, stopped and read: the brake and its override, dry run and pause,
the before-write hook and a lost lease, early stops, the event and shard options, and what
the summary, its callbacks and the exit code say about the pass, failed or not."""

from __future__ import annotations

import json
import signal
import threading

import pytest

from reconciler.cli.exit_codes import ExitCode
from reconciler.cli.run import StopRequest, exit_code, stop_on_signals
from reconciler.kernel.errors import LeaseLostError, ThrottledError
from reconciler.kernel.model import EventKey
from reconciler.reconcile.core import BrakeDecision, BrakePolicy, Shard, in_shard
from reconciler.reconcile.reconciler import PassControl
from reconciler.reconcile.summary import AwsErrorKey, PassSummary, StopReason
from tests.fakes.reconcile import REQUIRED_SUMMARY_KEYS, FakeClock, FakeReconcileTable
from tests.unit.reconciler_support import build


def test_the_brake_trips_on_the_number_of_corrections_and_writes_nothing():
    table = FakeReconcileTable()
    for i in range(3):
        table.add_event(f"e{i}", 0, attendees=2)
    reconciler, audit, _ = build(table, brake=BrakePolicy(2, 1.0, 1))
    summary = reconciler.run_pass()
    assert summary.brake_tripped is True
    assert summary.planned == 3
    assert summary.corrected == 0
    assert table.writes == []
    assert {(r.outcome, r.hold) for r in audit.records} == {("braked", "braked")}
    assert summary.brake.reason is not None
    assert "--max-corrections 2" in summary.brake.reason
    assert exit_code(summary) == 3


def test_the_brake_trips_on_the_ratio_of_corrections_to_events():
    table = FakeReconcileTable()
    for i in range(4):
        table.add_event(f"e{i}", 0, attendees=2 if i < 3 else 0)
    reconciler, _, _ = build(table, brake=BrakePolicy(100, 0.5, 4))
    summary = reconciler.run_pass()
    assert summary.brake_tripped is True
    assert table.writes == []


def test_force_overrides_the_brake():
    table = FakeReconcileTable()
    keys = [table.add_event(f"e{i}", 0, attendees=2) for i in range(3)]
    reconciler, _, _ = build(table, brake=BrakePolicy(2, 1.0, 1, force=True))
    summary = reconciler.run_pass()
    assert summary.brake_tripped is False
    assert summary.brake.overridden is True
    assert summary.corrected == 3
    assert all(table.count_of(k) == 2 for k in keys)


def test_dry_run_plans_and_audits_but_writes_nothing():
    table = FakeReconcileTable()
    key = table.add_event("tech", 9, attendees=7)
    reconciler, audit, _ = build(table, dry_run=True)
    summary = reconciler.run_pass()
    assert summary.dry_run is True
    assert summary.planned == 1
    assert summary.corrected == 0
    assert table.count_of(key) == 9
    assert table.requests["UpdateItem"] == 0
    assert [(r.outcome, r.hold, r.delta) for r in audit.records] == [("dry_run", "dry_run", -2)]


def test_paused_corrections_are_measured_and_planned_not_written():
    table = FakeReconcileTable()
    key = table.add_event("tech", 9, attendees=7)
    reconciler, audit, _ = build(table)
    summary = reconciler.run_pass(PassControl(corrections_paused=True))
    assert summary.corrections_paused is True
    assert summary.planned == 1
    assert table.count_of(key) == 9
    assert (audit.records[0].outcome, audit.records[0].hold) == ("paused", "paused")


def test_before_write_is_called_once_before_every_write():
    table = FakeReconcileTable()
    for i in range(3):
        table.add_event(f"e{i}", 0, attendees=1)
    calls: list[int] = []
    reconciler, _, _ = build(table)
    reconciler.run_pass(PassControl(before_write=lambda: calls.append(len(table.writes))))
    # Each call came before its own write: 0 writes done, then 1, then 2.
    assert calls == [0, 1, 2]


def test_a_lost_lease_aborts_the_pass_with_no_further_writes():
    table = FakeReconcileTable()
    for i in range(3):
        table.add_event(f"e{i}", 0, attendees=1)
    calls: list[int] = []

    def check() -> None:
        # As the lease keeper: once lost, every later check refuses (writes run concurrently).
        calls.append(1)
        if len(calls) >= 2:
            raise LeaseLostError("another replica took over")

    reconciler, _, _ = build(table)
    summary = reconciler.run_pass(PassControl(before_write=check))
    assert len(table.writes) == 1
    assert summary.failed is True
    assert summary.stop is StopReason.LEASE_LOST
    assert exit_code(summary) == 1


def test_should_stop_during_the_sweep_finishes_early_without_writing():
    table = FakeReconcileTable()
    for i in range(10):
        table.add_event(f"e{i:02d}", 0, attendees=1)
    reconciler, _, _ = build(table, concurrency=1)
    summary = reconciler.run_pass(PassControl(should_stop=lambda: table.requests["GetItem"] >= 3))
    assert summary.stop is StopReason.STOPPED_EARLY
    assert 3 <= summary.events_checked < 10
    assert table.writes == []
    assert summary.failed is False


def test_should_stop_during_the_settle_wait_returns_within_a_slice():
    table = FakeReconcileTable()
    table.add_event("tech", 0, attendees=1)
    clock = FakeClock()
    start = clock.now
    reconciler, _, _ = build(table, clock=clock)
    summary = reconciler.run_pass(PassControl(should_stop=lambda: clock.now - start >= 5))
    assert summary.stop is StopReason.STOPPED_EARLY
    assert clock.now - start < 7  # slept in slices of at most a second, not the whole window
    assert table.writes == []


def test_event_option_reconciles_that_event_only():
    table = FakeReconcileTable()
    target = table.add_event("tech", 0, attendees=2)
    other = table.add_event("other", 0, attendees=2)
    reconciler, _, _ = build(table, event="tech")
    summary = reconciler.run_pass()
    assert summary.events_checked == 1
    assert table.count_of(target) == 2
    assert table.count_of(other) == 0
    assert summary.event_slug == "tech"


def test_event_option_with_an_unknown_slug_fails_clearly():
    table = FakeReconcileTable()
    table.add_event("tech", 0)
    reconciler, _, _ = build(table, event="nope")
    summary = reconciler.run_pass()
    assert summary.failed is True
    assert summary.error is not None
    assert "nope" in summary.error


def test_shard_option_takes_only_its_share_and_all_shards_cover_every_event():
    slugs = [f"event-{i}" for i in range(40)]
    seen: list[str] = []
    for index in range(3):
        table = FakeReconcileTable()
        for slug in slugs:
            table.add_event(slug, 0, attendees=1)
        shard = Shard(index, 3)
        reconciler, audit, _ = build(table, shard=shard)
        summary = reconciler.run_pass()
        corrected = [r.slug for r in audit.records]
        assert all(in_shard(slug, shard) for slug in corrected)
        assert summary.events_checked == len(corrected)
        seen.extend(corrected)
    assert sorted(seen) == sorted(slugs)


def test_events_in_other_shards_are_not_even_read():
    table = FakeReconcileTable()
    keys = [table.add_event(f"s{i}", 1) for i in range(30)]
    shard = Shard(0, 2)
    reconciler, _, _ = build(table, shard=shard)
    summary = reconciler.run_pass()
    expected = sum(1 for k in keys if in_shard(k.slug, shard))
    assert table.requests["GetItem"] == expected == summary.events_checked
    assert EventKey("EVENT", "s0#2024-10-27#conference") in table.events_by_key


def test_an_aws_failure_ends_the_pass_as_failed_with_the_error_and_error_counts():
    table = FakeReconcileTable()
    table.add_event("tech", 0, attendees=1)
    table.failures["Query"] = ThrottledError("Query throttled after retries")
    reconciler, _, _ = build(table)
    summary = reconciler.run_pass()
    assert summary.failed is True
    assert summary.error is not None
    assert "throttled" in summary.error
    assert summary.io.errors == {AwsErrorKey("Query", "ThrottledError"): 1}
    assert summary.to_dict()["aws_errors"] == {"Query:ThrottledError": 1}
    assert table.writes == []
    assert exit_code(summary) == 1


def test_summary_callbacks_receive_every_summary_and_it_is_json_ready():
    table = FakeReconcileTable()
    table.add_event("tech", 1, attendees=2)
    seen: list[PassSummary] = []
    reconciler, _, _ = build(table)
    reconciler.on_summary.append(seen.append)
    summary = reconciler.run_pass(run_id="r9")
    assert seen == [summary]
    line = json.loads(json.dumps(summary.to_dict()))
    assert set(line) >= REQUIRED_SUMMARY_KEYS
    assert line["run_id"] == "r9"
    assert line["requests"] == {"GetItem": 2, "ListEvents": 1, "Query": 2, "UpdateItem": 1}


def test_a_generated_run_id_is_sortable_by_time():
    table = FakeReconcileTable()
    reconciler, _, _ = build(table)
    summary = reconciler.run_pass()
    assert summary.run_id.startswith("20241027T093000Z-")


@pytest.mark.parametrize(
    ("failed", "brake", "code"), [(False, False, 0), (True, False, 1), (False, True, 3)]
)
def test_exit_codes_follow_the_summary(failed: bool, brake: bool, code: int):
    summary = PassSummary("r", failed=failed, brake=BrakeDecision(tripped=brake))
    assert exit_code(summary) == code


def test_a_pass_stopped_before_it_completed_exits_4_unless_it_failed():
    stopped = PassSummary("r", stop=StopReason.STOPPED_EARLY, brake=BrakeDecision(tripped=True))
    assert exit_code(stopped) == ExitCode.STOPPED == 4
    assert exit_code(PassSummary("r", stop=StopReason.STOPPED_EARLY, failed=True)) == 1


def test_the_deadline_stops_a_pass_and_names_itself_the_cause():
    now = [0.0]
    stop = StopRequest(5.0, clock=lambda: now[0])
    assert (stop(), stop.cause) == (False, None)
    now[0] = 5.0
    assert (stop(), stop.cause) == (True, "deadline")


def test_a_signal_stops_a_pass_and_no_deadline_means_none():
    stop = StopRequest(0.0, clock=lambda: 1e9)
    assert stop() is False
    stop.signal(15)
    assert (stop(), stop.cause, stop.signalled) == (True, "SIGTERM", True)


def test_signal_handlers_are_left_alone_off_the_main_thread():
    before = signal.getsignal(signal.SIGTERM)
    seen: list[object] = []

    def inside() -> None:
        with stop_on_signals(StopRequest(0.0)):
            seen.append(signal.getsignal(signal.SIGTERM))

    worker = threading.Thread(target=inside)
    worker.start()
    worker.join(5)
    assert seen == [before]
