"""The race-safety cases against a moto server: the real handler, driven by the pump, updates
counters while the pass looks, waits and writes. A record in flight is never corrected, an
update between recheck and write makes a conflict, and after quiescence every count is exact.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Iterator

import pytest

from reconciler.devtools.pump import FaultPlan
from reconciler.kernel.aws import Clients
from reconciler.kernel.model import EventKey
from reconciler.reconcile.core import Correction, StoredCounter
from reconciler.reconcile.dynamo import DynamoReconcileTable
from reconciler.reconcile.ports import EventGroup, IoStats
from reconciler.reconcile.ratelimit import ReadRateLimiter
from reconciler.reconcile.reconciler import PassOptions, Reconciler
from reconciler.reconcile.summary import PassSummary
from tests.fakes.reconcile import FakeClock, RecordingAuditSink
from tests.integration.reconcile_pass import (
    AI,
    NO_BRAKE,
    TECH,
    WORKSHOP,
    pump_for,
    register,
    run_pass,
    run_with_audit,
)
from tests.integration.traffic import MODEL, Table


@pytest.fixture
def table(clients: Clients, table_name: str) -> Table:
    return Table(clients, table_name)


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
    summary = run_with_audit(table, clock, audit)
    # THEN the pass saw a suspect, then a version change: in flux, nothing written, and the
    # attendee is counted exactly once
    assert summary.drifted == 1
    assert summary.in_flux == 1
    assert summary.corrected == 0
    assert audit.records == []
    assert table.stored(TECH) == 6


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


def exact(table: Table, *keys: EventKey) -> bool:
    return all(table.stored(k) == table.true_count(k.slug) for k in keys)


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
