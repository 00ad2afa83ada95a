"""A whole pass on in-memory fakes: sweep, settle, recheck, brake, apply, and their controls."""

from __future__ import annotations

import gc
import json
from datetime import UTC, datetime

import pytest

from reconciler.cli.run import exit_code
from reconciler.kernel.errors import LeaseLostError, ThrottledError
from reconciler.kernel.model import EventKey
from reconciler.reconcile.core import (
    BrakeDecision,
    BrakePolicy,
    Correction,
    Observation,
    Shard,
    in_shard,
)
from reconciler.reconcile.reconciler import PassControl, PassOptions, Reconciler
from reconciler.reconcile.summary import AwsErrorKey, PassSummary, StopReason
from tests.fakes.reconcile import (
    MISSING,
    REQUIRED_SUMMARY_KEYS,
    FakeClock,
    FakeReconcileTable,
    RecordingAuditSink,
)

NO_BRAKE = BrakePolicy(max_corrections=1000, max_ratio=1.0, min_events_for_ratio=1000)
SETTLE = 120.0


def build(
    table: FakeReconcileTable,
    *,
    clock: FakeClock | None = None,
    brake: BrakePolicy = NO_BRAKE,
    dry_run: bool = False,
    event: str | None = None,
    shard: Shard | None = None,
    concurrency: int = 2,
) -> tuple[Reconciler, RecordingAuditSink, FakeClock]:
    clock = clock or FakeClock()
    audit = RecordingAuditSink()
    reconciler = Reconciler(
        events=table,
        table=table,
        audit=audit,
        options=PassOptions(SETTLE, concurrency, brake, dry_run, event, shard),
        clock=clock,
        sleep=clock.sleep,
        wall=lambda: datetime(2024, 10, 27, 9, 30, tzinfo=UTC),
    )
    return reconciler, audit, clock


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
    assert record.stored_raw == '{"S": "ten"}'
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
        calls.append(1)
        if len(calls) == 2:
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


def test_an_event_deleted_during_the_pass_is_counted_as_vanished():
    table = FakeReconcileTable()
    key = table.add_event("tech", 0)
    table.before_op = lambda op, _slug: table.events_by_key.pop(key) if op == "GetItem" else None
    reconciler, _, _ = build(table)
    summary = reconciler.run_pass()
    assert summary.vanished == 1
    assert summary.failed is False


def test_an_unreadable_version_is_reported_and_never_written():
    table = FakeReconcileTable()
    key = table.add_event("tech", 0, attendees=3)
    table.events_by_key[key].version_raw = "v7"
    reconciler, _, _ = build(table)
    summary = reconciler.run_pass()
    assert summary.unsupported == 1
    assert table.writes == []


def test_the_listing_is_consumed_lazily_with_a_bounded_queue():
    table = FakeReconcileTable()
    for i in range(200):
        table.add_event(f"e{i:03d}", 1)
    ahead: list[int] = []

    def watch(op: str, _slug: str) -> None:
        if op == "GetItem":
            ahead.append(table.listed - table.requests["GetItem"])

    table.before_op = watch
    reconciler, _, _ = build(table, concurrency=3)
    summary = reconciler.run_pass()
    assert summary.in_sync == 200
    # Two per worker queued, plus the one being handed out: never the whole listing.
    assert max(ahead) <= 2 * 3 + 1


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


def test_events_in_other_shards_are_not_even_read():
    table = FakeReconcileTable()
    keys = [table.add_event(f"s{i}", 1) for i in range(30)]
    shard = Shard(0, 2)
    reconciler, _, _ = build(table, shard=shard)
    summary = reconciler.run_pass()
    expected = sum(1 for k in keys if in_shard(k.slug, shard))
    assert table.requests["GetItem"] == expected == summary.events_checked
    assert EventKey("EVENT", "s0#2024-10-27#conference") in table.events_by_key


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


def _alive(kind: type) -> int:
    gc.collect()
    return sum(1 for thing in gc.get_objects() if isinstance(thing, kind))


def test_when_every_event_drifted_the_pass_keeps_only_a_bounded_number_in_memory():
    # GIVEN 40 events that all drifted (a handler outage): numbers, missing and invalid ones,
    # with and without counterVersion, and room for 4 suspects in memory
    table = FakeReconcileTable()
    keys = []
    for i in range(40):
        count: object = [0, MISSING, "ten", 7][i % 4]
        version = None if i % 5 == 0 else i
        keys.append(table.add_event(f"e{i:02d}", count, attendees=i % 3 + 1, version=version))
    peak: dict[str, int] = {}

    def watch(op: str, _slug: str) -> None:
        if op == "GetItem" and table.requests["GetItem"] == 40:  # the first recheck
            peak["observations"] = _alive(Observation)
        if op == "UpdateItem" and table.requests["UpdateItem"] == 0:  # the first write
            peak["corrections"] = _alive(Correction)

    table.before_op = watch
    clock = FakeClock()
    audit = RecordingAuditSink()
    reconciler = Reconciler(
        events=table,
        table=table,
        audit=audit,
        options=PassOptions(SETTLE, 2, NO_BRAKE),
        clock=clock,
        sleep=clock.sleep,
        spool_limit=4,
    )
    # WHEN a pass runs
    summary = reconciler.run_pass()
    # THEN every counter is exact, each corrected once from what was observed...
    assert summary.corrected == 40
    assert all(table.count_of(k) == i % 3 + 1 for i, k in enumerate(keys))
    assert sorted(r.slug for r in audit.records) == [f"e{i:02d}" for i in range(40)]
    assert {r.stored_raw for r in audit.records if r.reason == "invalid"} == {'{"S": "ten"}'}
    # ...and neither the suspects nor the corrections were all held in memory at once
    assert peak["observations"] <= 8
    assert peak["corrections"] <= 8


def test_a_tripped_brake_reports_every_spooled_correction():
    table = FakeReconcileTable()
    for i in range(12):
        table.add_event(f"e{i:02d}", 0, attendees=1)
    clock = FakeClock()
    audit = RecordingAuditSink()
    reconciler = Reconciler(
        events=table,
        table=table,
        audit=audit,
        options=PassOptions(SETTLE, 2, BrakePolicy(5, 1.0, 1000)),
        clock=clock,
        sleep=clock.sleep,
        spool_limit=3,
    )
    summary = reconciler.run_pass()
    assert summary.brake_tripped is True
    assert summary.planned == 12
    assert table.writes == []
    assert sorted((r.slug, r.hold, r.delta) for r in audit.records) == [
        (f"e{i:02d}", "braked", 1) for i in range(12)
    ]
