"""The scan sweep against a moto server beside the real handler: a parallel scan counts every
attendee once, corrects exactly the drift, and a record in flight is still never corrected."""

from __future__ import annotations

import pytest

from reconciler.devtools.pump import FaultPlan
from reconciler.kernel.aws import Clients
from reconciler.reconcile.scan_core import SweepMode
from tests.fakes.reconcile import FakeClock, RecordingAuditSink
from tests.integration.reconcile_pass import AI, TECH, WORKSHOP, pump_for, register, run_pass
from tests.integration.traffic import Table


@pytest.fixture
def table(clients: Clients, table_name: str) -> Table:
    return Table(clients, table_name)


def test_a_parallel_scan_pass_corrects_exactly_the_events_the_stream_left_drifted(
    table: Table,
) -> None:
    # GIVEN three events, one of which lost a batch, and attendees of an event that has no item
    for key in (TECH, WORKSHOP, AI):
        table.put_event(key, 0)
    register(table, WORKSHOP.slug, 25)
    register(table, TECH.slug, 4)
    register(table, AI.slug, 2)
    register(table, "no-such-event", 3)
    pump_for(table, faults=FaultPlan(drop_batches=frozenset({0}))).drain()
    assert table.stored(WORKSHOP) < 25
    assert (table.stored(TECH), table.stored(AI)) == (4, 2)
    # WHEN a scan pass runs over three segments
    summary = run_pass(table, sweep=SweepMode.SCAN, concurrency=3)
    # THEN only the drifted event was looked at again and corrected; the orphans changed nothing
    assert summary.failed is False, summary.error
    assert summary.sweep == "scan"
    assert (summary.events_checked, summary.scanned_in_sync, summary.corrected) == (3, 2, 1)
    assert [table.stored(k) for k in (TECH, WORKSHOP, AI)] == [4, 25, 2]
    assert summary.io.requests["Scan"] >= 3
    # The drifted event's two looks (a counter read and a count each) and its ledger check: no
    # listing, no read of any other event.
    assert (summary.io.requests["Query"], summary.io.requests["GetItem"]) == (2, 3)


def test_a_record_in_flight_is_not_corrected_by_a_scan_pass(table: Table) -> None:
    table.put_event(TECH, 0)
    pump = pump_for(table)
    register(table, TECH.slug, 5)
    pump.drain()
    table.register(TECH.slug, "late@example.com")
    clock = FakeClock(on_sleep=lambda _now: pump.drain())
    audit = RecordingAuditSink()
    summary = run_pass(table, clock=clock, sweep=SweepMode.SCAN)
    assert (summary.drifted, summary.in_flux, summary.corrected) == (1, 1, 0)
    assert audit.records == []
    assert table.stored(TECH) == 6


def test_auto_takes_the_query_sweep_for_a_table_of_few_events(table: Table) -> None:
    table.put_event(TECH, 1)
    register(table, TECH.slug, 1)
    summary = run_pass(table, sweep=SweepMode.AUTO)
    assert summary.sweep == "query"
    assert summary.in_sync == 1
    assert "Scan" not in summary.io.requests
