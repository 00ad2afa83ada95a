"""What a pass against a moto server reports and refuses: dry run writes nothing, missing,
invalid and binary counters are corrected with their old value audited, ambiguous slugs are
never corrected, both partitions are listed across pages, and a lost lease or a stale
version stops the write."""

from __future__ import annotations

import pytest

from reconciler.kernel.aws import Clients
from reconciler.kernel.model import EventKey
from reconciler.reconcile.core import Correction
from reconciler.reconcile.dynamo import DynamoReconcileTable
from reconciler.reconcile.ratelimit import ReadRateLimiter
from reconciler.reconcile.reconciler import PassControl
from reconciler.reconcile.summary import StopReason
from tests.fakes.reconcile import FakeClock, RecordingAuditSink
from tests.integration.reconcile_pass import AI, TECH, WORKSHOP, register, run_pass, run_with_audit
from tests.integration.traffic import MODEL, Table


@pytest.fixture
def table(clients: Clients, table_name: str) -> Table:
    return Table(clients, table_name)


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
    summary = run_with_audit(table, clock, audit)
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
    summary = run_with_audit(table, FakeClock(), audit)
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
