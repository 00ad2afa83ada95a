"""The reconciler against a moto server, beside the real stream handler driven by the pump.

Time is virtual: the pass sleeps on a fake clock, and the clock's sleep hook is where the test
lets the pump deliver stream records, i.e. "while the pass waits for the settle window".
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator
from typing import Any

import pytest

from reconciler.devtools.pump import FaultPlan, PumpConfig, StreamPump
from reconciler.kernel.aws import Clients
from reconciler.kernel.model import EventKey, TableModel
from reconciler.kernel.settings import TableSettings
from reconciler.reconcile.bootstrap import build_reconciler
from reconciler.reconcile.core import BrakePolicy, Correction, StoredCounter
from reconciler.reconcile.dynamo import DynamoReconcileTable
from reconciler.reconcile.ports import EventGroup, IoStats
from reconciler.reconcile.ratelimit import ReadRateLimiter
from reconciler.reconcile.reconciler import PassControl, PassOptions, Reconciler
from reconciler.reconcile.settings import RunSettings
from reconciler.reconcile.summary import PassSummary, StopReason
from tests.fakes.reconcile import FakeClock, RecordingAuditSink
from tests.integration.traffic import Table

MODEL = TableModel()
TECH = EventKey("FAD", "tech-summit-2024#2024-10-27#conference")
WORKSHOP = EventKey("EVENT", "workshop#2024-11-15#workshop")
AI = EventKey("EVENT", "workshop-ai#2024-11-16#workshop")
NO_BRAKE = BrakePolicy(max_corrections=1000, max_ratio=1.0, min_events_for_ratio=1000)


@pytest.fixture
def table(clients: Clients, table_name: str) -> Table:
    return Table(clients, table_name)


def pump_for(table: Table, handler: Any = None, faults: FaultPlan | None = None) -> StreamPump:
    """The local event source mapping with the real handler; no batching wait."""
    live = handler if handler is not None else table.handler()

    def invoke(event: dict[str, Any], context: Any) -> object:
        if callable(live) and not hasattr(live, "handle"):
            return live(event, context)
        return live.handle(event, context.aws_request_id)

    clock = FakeClock()
    return StreamPump(
        table.clients.streams(),
        table.stream_arn(),
        invoke,
        region="us-east-1",
        config=PumpConfig(batching_window=0.0),
        faults=faults,
        clock=clock,
        sleep=clock.sleep,
    )


def naive_handler(table: Table) -> Callable[[dict[str, Any], Any], None]:
    """The system as first deployed: ADD per record, no version, no dedup. Duplicate deliveries
    over-count with it, and its items carry no counterVersion (the reconciler's fallback)."""

    def handle(event: dict[str, Any], _context: Any) -> None:
        for record in event["Records"]:
            pk = record["dynamodb"]["Keys"]["pk"]["S"]
            if not pk.endswith("#ATTENDEE"):
                continue
            delta = {"INSERT": 1, "REMOVE": -1}.get(record["eventName"], 0)
            slug = pk.removesuffix("#ATTENDEE")
            key = next(k for k in (TECH, WORKSHOP, AI) if k.slug == slug)
            table.ddb.update_item(
                TableName=table.name,
                Key={"pk": {"S": key.partition}, "sk": {"S": key.sort_key}},
                UpdateExpression="ADD attendeeCount :d",
                ExpressionAttributeValues={":d": {"N": str(delta)}},
            )

    return handle


def register(table: Table, slug: str, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        table.register(slug, f"{slug}-{i}@example.com")


def settings_for(table: Table, **overrides: Any) -> RunSettings:
    values: dict[str, Any] = {
        "table": TableSettings(table.name, MODEL),
        "settle_seconds": 120.0,
        "concurrency": 2,
        "max_reads_per_second": 0.0,
        "brake": NO_BRAKE,
    }
    values.update(overrides)
    return RunSettings(**values)


def run_pass(
    table: Table,
    *,
    clock: FakeClock | None = None,
    control: PassControl | None = None,
    **overrides: Any,
) -> PassSummary:
    clock = clock or FakeClock()
    reconciler = build_reconciler(
        settings_for(table, **overrides), table.clients, clock=clock, sleep=clock.sleep
    )
    try:
        return reconciler.run_pass(control)
    finally:
        reconciler.close()


def exact(table: Table, *keys: EventKey) -> bool:
    return all(table.stored(k) == table.true_count(k.slug) for k in keys)


# -- drift from the stream's faults is repaired ------------------------------------------------


def test_duplicate_delivery_over_count_is_corrected(table: Table) -> None:
    # GIVEN the naive handler and a stream whose first batch is delivered twice
    table.put_event(WORKSHOP, 0)
    register(table, "workshop", 8)
    pump_for(table, naive_handler(table), FaultPlan(duplicate_batches=frozenset({0}))).drain()
    assert table.stored(WORKSHOP) > table.true_count("workshop") == 8
    # WHEN a pass runs
    summary = run_pass(table)
    # THEN the count is exact, corrected on the stored value alone (no counterVersion)
    assert table.stored(WORKSHOP) == 8
    assert (summary.drifted, summary.drift_over, summary.corrected) == (1, 1, 1)
    assert table.item(WORKSHOP)["counterVersion"] == {"N": "1"}


def test_dropped_batch_under_count_is_corrected(table: Table) -> None:
    table.put_event(WORKSHOP, 0)
    register(table, "workshop", 25)
    stats = pump_for(table, faults=FaultPlan(drop_batches=frozenset({1}))).drain()
    assert stats.injected_drops == 1
    assert table.stored(WORKSHOP) < 25
    version = int(table.item(WORKSHOP)["counterVersion"]["N"])

    summary = run_pass(table)

    assert table.stored(WORKSHOP) == 25
    assert (summary.drift_under, summary.corrected) == (1, 1)
    assert summary.drift_attendees_under == 25 - 15
    assert int(table.item(WORKSHOP)["counterVersion"]["N"]) == version + 1


def test_handler_keeps_counting_correctly_after_a_correction(table: Table) -> None:
    table.put_event(WORKSHOP, 0)
    pump = pump_for(table, faults=FaultPlan(drop_batches=frozenset({0})))
    register(table, "workshop", 4)
    pump.drain()
    run_pass(table)
    register(table, "workshop", 3, start=4)
    table.unregister("workshop", "workshop-0@example.com")
    pump.drain()
    assert table.stored(WORKSHOP) == table.true_count("workshop") == 6


# -- the race-safety cases --------------------------------------------------------------------


def test_a_record_in_flight_is_not_corrected(table: Table) -> None:
    # GIVEN an exact counter, then one attendee written but not yet pumped to the handler
    table.put_event(TECH, 0)
    pump = pump_for(table)
    register(table, "tech-summit-2024", 5)
    pump.drain()
    table.register("tech-summit-2024", "late@example.com")
    assert table.stored(TECH) == 5
    assert table.true_count("tech-summit-2024") == 6
    # WHEN the pass runs and the record is delivered while it waits for the settle window
    clock = FakeClock(on_sleep=lambda _now: pump.drain())
    audit = RecordingAuditSink()
    summary = _run_with_audit(table, clock, audit)
    # THEN the pass saw a suspect, then a version change: in flux, nothing written, and the
    # attendee is counted exactly once
    assert summary.drifted == 1
    assert summary.in_flux == 1
    assert summary.corrected == 0
    assert audit.records == []
    assert table.stored(TECH) == 6


def _run_with_audit(table: Table, clock: FakeClock, audit: RecordingAuditSink) -> PassSummary:
    reconciler = build_reconciler(
        settings_for(table),
        table.clients,
        clock=clock,
        sleep=clock.sleep,
        extra_audit_sinks=[audit],
    )
    try:
        return reconciler.run_pass()
    finally:
        reconciler.close()


class Interleaved:
    """The real adapter, with live traffic (registrations, removals, pumped handler
    deliveries) injected before each of its calls: a deterministic interleaving of the pass
    with the handler. Wrapping, not mocking: every call still goes to moto."""

    def __init__(self, inner: DynamoReconcileTable, before: Callable[[str], None]) -> None:
        self._inner = inner
        self._before = before

    def events(self) -> Iterator[EventGroup]:
        return self._inner.events()

    def event(self, slug: str) -> EventGroup | None:
        return self._inner.event(slug)

    def read_counter(self, key: EventKey) -> StoredCounter | None:
        self._before("GetItem")
        return self._inner.read_counter(key)

    def count_attendees(self, slug: str) -> int:
        self._before("Query")
        return self._inner.count_attendees(slug)

    def write_correction(self, correction: Correction) -> None:
        self._before("UpdateItem")
        self._inner.write_correction(correction)

    def stats(self) -> IoStats:
        return self._inner.stats()


def run_interleaved(table: Table, clock: FakeClock, before: Callable[[str], None]) -> PassSummary:
    """One pass over the real adapter with ``before`` injected ahead of each of its calls."""
    inner = DynamoReconcileTable(
        table.ddb, table.name, MODEL, ReadRateLimiter(0, clock=clock, sleep=clock.sleep)
    )
    racing = Interleaved(inner, before)
    reconciler = Reconciler(
        events=racing,
        table=racing,
        audit=RecordingAuditSink(),
        options=PassOptions(120.0, 1, NO_BRAKE),
        clock=clock,
        sleep=clock.sleep,
    )
    try:
        return reconciler.run_pass()
    finally:
        inner.close()


def test_concurrent_handler_traffic_leaves_every_count_exact_after_quiescence(
    table: Table,
) -> None:
    keys = [TECH, WORKSHOP, AI]
    for key in keys:
        table.put_event(key, 0)
    # Drift to repair: a dropped batch.
    pump = pump_for(table, faults=FaultPlan(drop_batches=frozenset({0})))
    for key in keys:
        register(table, key.slug, 4)
    pump.drain()
    rng = random.Random(7)
    next_id = [100]
    members: dict[str, list[str]] = {
        k.slug: [f"{k.slug}-{i}@example.com" for i in range(4)] for k in keys
    }

    def traffic(_operation: str) -> None:
        # One registration or removal on a random event, and sometimes a pump of the stream.
        slug = rng.choice(keys).slug
        if members[slug] and rng.random() < 0.3:
            table.unregister(slug, members[slug].pop(rng.randrange(len(members[slug]))))
        else:
            email = f"{slug}-{next_id[0]}@example.com"
            next_id[0] += 1
            table.register(slug, email)
            members[slug].append(email)
        if rng.random() < 0.5:
            pump.drain()

    clock = FakeClock(on_sleep=lambda _now: pump.drain())
    first = run_interleaved(table, clock, traffic)
    # The traffic really raced the pass: some looks changed under it.
    assert first.in_flux + first.conflicts >= 1
    # Quiescence: everything written so far reaches the handler; then a second pass.
    pump.drain()
    second = run_pass(table)
    assert second.conflicts == 0
    assert second.in_flux == 0
    assert exact(table, *keys)
    assert all(table.true_count(k.slug) == len(members[k.slug]) for k in keys)


def test_a_handler_update_between_recheck_and_write_is_a_conflict(table: Table) -> None:
    table.put_event(WORKSHOP, 0)
    pump = pump_for(table, faults=FaultPlan(drop_batches=frozenset({0})))
    register(table, "workshop", 3)
    pump.drain()

    def just_before_write(operation: str) -> None:
        if operation == "UpdateItem":
            table.register("workshop", "racer@example.com")
            pump.drain()

    summary = run_interleaved(table, FakeClock(), just_before_write)
    assert summary.conflicts == 1
    assert summary.corrected == 0
    assert table.stored(WORKSHOP) == 1  # the handler's +1 survived; nothing was overwritten
    assert run_pass(table).corrected == 1
    assert table.stored(WORKSHOP) == 4


# -- what a pass reports and refuses ---------------------------------------------------------


def test_dry_run_writes_nothing(table: Table) -> None:
    table.put_event(WORKSHOP, 9)
    register(table, "workshop", 2)
    before = table.item(WORKSHOP)
    summary = run_pass(table, dry_run=True)
    assert table.item(WORKSHOP) == before
    assert (summary.planned, summary.corrected, summary.dry_run) == (1, 0, True)
    assert "UpdateItem" not in summary.io.requests


def test_missing_and_invalid_counters_are_initialized_and_corrected(table: Table) -> None:
    table.put_event(WORKSHOP, None)
    table.put_event(AI, "lots")
    register(table, "workshop", 3)
    register(table, "workshop-ai", 2)
    audit = RecordingAuditSink()
    clock = FakeClock()
    summary = _run_with_audit(table, clock, audit)
    assert table.stored(WORKSHOP) == 3
    assert table.stored(AI) == 2
    assert (summary.initialized, summary.invalid, summary.corrected) == (1, 1, 2)
    invalid = next(r for r in audit.records if r.reason == "invalid")
    assert invalid.stored_raw == '{"S":"lots"}'
    assert invalid.outcome == "applied"


def test_binary_counters_are_invalid_corrected_and_their_old_value_kept(table: Table) -> None:
    # GIVEN counters someone wrote as binary values (botocore returns them as bytes)
    for key, raw in ((WORKSHOP, {"B": b"\x00\x07"}), (AI, {"BS": [b"\x01", b"\x02"]})):
        table.ddb.put_item(
            TableName=table.name,
            Item={"pk": {"S": key.partition}, "sk": {"S": key.sort_key}, "attendeeCount": raw},
        )
    register(table, "workshop", 2)
    audit = RecordingAuditSink()
    # WHEN a pass runs
    summary = _run_with_audit(table, FakeClock(), audit)
    # THEN both are reported invalid and corrected, and the audit keeps the exact old values
    assert summary.failed is False, summary.error
    assert (summary.invalid, summary.corrected) == (2, 2)
    assert (table.stored(WORKSHOP), table.stored(AI)) == (2, 0)
    assert {r.slug: r.stored_raw for r in audit.records} == {
        "workshop": '{"B":"AAc="}',
        "workshop-ai": '{"BS":["AQ==","Ag=="]}',
    }


def test_ambiguous_slugs_are_reported_and_never_corrected(table: Table) -> None:
    table.put_event(EventKey("FAD", "tech#2024-10-27#conference"), 7)
    table.put_event(EventKey("EVENT", "tech#2025-10-27#conference"), 1)
    table.put_event(EventKey("EVENT", "tech-ai#2025-01-01#meetup"), 0)
    register(table, "tech", 2)
    summary = run_pass(table)
    assert summary.ambiguous == 1
    assert summary.events_checked == 2  # "tech" (ambiguous) and "tech-ai"
    assert summary.corrected == 0
    assert table.stored(EventKey("FAD", "tech#2024-10-27#conference")) == 7


def test_events_are_merged_from_both_partitions_across_pages(table: Table) -> None:
    # Page size 2 forces several pages per partition; the slug "b" lives in both partitions.
    for partition, slugs in (("FAD", "acegi"), ("EVENT", "bdbfh")):
        for i, slug in enumerate(slugs):
            table.put_event(EventKey(partition, f"{slug}#2024-01-0{i + 1}#x"), 0)
    clock = FakeClock()
    adapter = DynamoReconcileTable(
        table.ddb,
        table.name,
        MODEL,
        ReadRateLimiter(0, clock=clock, sleep=clock.sleep),
        event_page_size=2,
    )
    groups = list(adapter.events())
    adapter.close()
    assert [g.slug for g in groups] == list("abcdefghi")
    assert [g.slug for g in groups if g.ambiguous] == ["b"]
    assert adapter.stats().requests["Query"] >= 5


def test_event_option_reconciles_only_that_event(table: Table) -> None:
    table.put_event(WORKSHOP, 5)
    table.put_event(AI, 5)
    summary = run_pass(table, event="workshop")
    assert summary.events_checked == 1
    assert table.stored(WORKSHOP) == 0
    assert table.stored(AI) == 5


def test_a_lost_lease_stops_every_write(table: Table) -> None:
    from reconciler.kernel.errors import LeaseLostError

    for key in (TECH, WORKSHOP):
        table.put_event(key, 3)

    def lost() -> None:
        raise LeaseLostError("lease taken over")

    summary = run_pass(table, control=PassControl(before_write=lost))
    assert summary.failed is True
    assert summary.stop is StopReason.LEASE_LOST
    assert table.stored(TECH) == table.stored(WORKSHOP) == 3


def test_the_write_condition_refuses_a_stale_version(table: Table) -> None:
    # The adapter's conditional write, alone: a version bumped since the look wins.
    table.put_event(WORKSHOP, 4)
    clock = FakeClock()
    adapter = DynamoReconcileTable(
        table.ddb, table.name, MODEL, ReadRateLimiter(0, clock=clock, sleep=clock.sleep)
    )
    seen = adapter.read_counter(WORKSHOP)
    assert seen is not None
    table.ddb.update_item(
        TableName=table.name,
        Key={"pk": {"S": WORKSHOP.partition}, "sk": {"S": WORKSHOP.sort_key}},
        UpdateExpression="ADD counterVersion :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    from reconciler.kernel.errors import ConflictError
    from reconciler.reconcile.core import Reason

    with pytest.raises(ConflictError):
        adapter.write_correction(Correction(WORKSHOP, Reason.DRIFT, seen, 0))
    adapter.close()
    assert table.stored(WORKSHOP) == 4
