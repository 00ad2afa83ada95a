"""A pass keeps a bounded amount in memory however many events there are and however many
drifted (a handler outage): the listing is read lazily, and suspects and corrections are
spooled, yet every one of them is still corrected or reported."""

from __future__ import annotations

import gc

from reconciler.reconcile.core import BrakePolicy, Correction, Observation
from tests.fakes.reconcile import MISSING, FakeReconcileTable
from tests.unit.reconciler_support import build


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
    # gc sees the whole process: objects other tests in this worker still hold are not the pass's
    before = {Observation: _alive(Observation), Correction: _alive(Correction)}

    def watch(op: str, _slug: str) -> None:
        if op == "GetItem" and table.requests["GetItem"] == 40:  # the first recheck
            peak["observations"] = _alive(Observation) - before[Observation]
        if op == "UpdateItem" and table.requests["UpdateItem"] == 0:  # the first write
            peak["corrections"] = _alive(Correction) - before[Correction]

    table.before_op = watch
    reconciler, audit, _ = build(table, spool_limit=4)
    # WHEN a pass runs
    summary = reconciler.run_pass()
    # THEN every counter is exact, each corrected once from what was observed...
    assert summary.corrected == 40
    assert all(table.count_of(k) == i % 3 + 1 for i, k in enumerate(keys))
    assert sorted(r.slug for r in audit.records) == [f"e{i:02d}" for i in range(40)]
    assert {r.stored_raw for r in audit.records if r.reason == "invalid"} == {'{"S":"ten"}'}
    # ...and neither the suspects nor the corrections were all held in memory at once
    assert peak["observations"] <= 8
    assert peak["corrections"] <= 8


def test_a_tripped_brake_reports_every_spooled_correction():
    table = FakeReconcileTable()
    for i in range(12):
        table.add_event(f"e{i:02d}", 0, attendees=1)
    reconciler, audit, _ = build(table, brake=BrakePolicy(5, 1.0, 1000), spool_limit=3)
    summary = reconciler.run_pass()
    assert summary.brake_tripped is True
    assert summary.planned == 12
    assert table.writes == []
    assert sorted((r.slug, r.hold, r.delta) for r in audit.records) == [
        (f"e{i:02d}", "braked", 1) for i in range(12)
    ]
