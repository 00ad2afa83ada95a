"""The counting and conditional-update path against dynalite, a second DynamoDB implementation:
paginated consistent COUNT queries, size-based consumed capacity, and every write condition."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import pytest

from benchmarks.handler import item_size
from reconciler.devtools.dynalite import Dynalite
from reconciler.devtools.local_table import create_table
from reconciler.kernel.aws import Clients, client_config
from reconciler.kernel.errors import ConflictError
from reconciler.kernel.model import EventKey, TableModel
from reconciler.kernel.settings import TableSettings
from reconciler.reconcile.bootstrap import build_reconciler
from reconciler.reconcile.core import BrakePolicy, Correction, Reason
from reconciler.reconcile.dynamo import DynamoReconcileTable
from reconciler.reconcile.ratelimit import ReadRateLimiter
from reconciler.reconcile.scan_core import SweepMode
from reconciler.reconcile.settings import RunSettings
from reconciler.reconcile.summary import PassSummary
from tests.fakes.reconcile import FakeClock

pytestmark = pytest.mark.xdist_group("dynalite")

MODEL = TableModel()
NO_BRAKE = BrakePolicy(max_corrections=1000, max_ratio=1.0, min_events_for_ratio=1000)


@pytest.fixture(scope="module")
def dynalite_endpoint() -> Iterator[str]:
    with Dynalite() as server:
        yield server.endpoint


@pytest.fixture
def ddb(dynalite_endpoint: str) -> Any:
    return Clients(config=client_config(max_attempts=2), endpoint_url=dynalite_endpoint).dynamodb()


@pytest.fixture
def table(ddb: Any) -> str:
    name = f"registrations-{uuid.uuid4().hex[:8]}"
    create_table(ddb, name)
    return name


def key_of(key: EventKey) -> dict[str, Any]:
    return {"pk": {"S": key.partition}, "sk": {"S": key.sort_key}}


def put_event(ddb: Any, table: str, key: EventKey, count: Any, version: int | None = 0) -> None:
    item = key_of(key)
    if count is not None:
        item["attendeeCount"] = count if isinstance(count, dict) else {"N": str(count)}
    if version is not None:
        item["counterVersion"] = {"N": str(version)}
    ddb.put_item(TableName=table, Item=item)


def put_attendees(ddb: Any, table: str, slug: str, count: int, padding: int = 0) -> None:
    """Attendee items as the system writes them (synthetic values), in batches of 25."""
    items = [
        {
            "pk": {"S": f"{slug}#ATTENDEE"},
            "sk": {"S": f"attendee-{i:06d}@example.invalid"},
            "firstName": {"S": "Test"},
            "lastName": {"S": "Person"},
            "profession": {"S": "x" * max(1, padding)},
        }
        for i in range(count)
    ]
    for start in range(0, len(items), 25):
        batch = [{"PutRequest": {"Item": item}} for item in items[start : start + 25]]
        ddb.batch_write_item(RequestItems={table: batch})


def adapter(ddb: Any, table: str, page_size: int | None = None) -> DynamoReconcileTable:
    clock = FakeClock()
    return DynamoReconcileTable(
        ddb,
        table,
        MODEL,
        ReadRateLimiter(0, clock=clock, sleep=clock.sleep),
        event_page_size=page_size,
    )


def stored(ddb: Any, table: str, key: EventKey) -> dict[str, Any]:
    return dict(ddb.get_item(TableName=table, Key=key_of(key), ConsistentRead=True)["Item"])


def test_counting_follows_pages_and_sums_size_based_capacity(ddb: Any, table: str) -> None:
    # GIVEN more than 1 MB of attendee items for one event: several pages
    put_attendees(ddb, table, "big", 2600, padding=450)
    put_attendees(ddb, table, "big-other", 5)  # a longer slug sharing the prefix
    port = adapter(ddb, table)
    # WHEN they are counted
    count = port.count_attendees("big")
    stats = port.stats()
    port.close()
    # THEN the count is exact, it took several pages, and capacity grew with the data size
    assert count == 2600
    assert stats.requests["Query"] >= 2
    assert stats.read_units > 250  # ~1.3 MB at 4 KB per unit, strongly consistent


def test_a_pass_repairs_drift_missing_and_invalid_counters(ddb: Any, table: str) -> None:
    over = EventKey("FAD", "over#2024-10-27#conference")
    under = EventKey("EVENT", "under#2024-11-15#workshop")
    missing = EventKey("EVENT", "missing#2024-11-16#workshop")
    invalid = EventKey("FAD", "invalid#2024-12-01#meetup")
    legacy = EventKey("EVENT", "legacy#2025-01-01#meetup")  # no counterVersion
    put_event(ddb, table, over, 9)
    put_event(ddb, table, under, 1)
    put_event(ddb, table, missing, None, version=None)
    put_event(ddb, table, invalid, {"S": "a lot"}, version=3)
    put_event(ddb, table, legacy, 0, version=None)
    for key, attendees in ((over, 4), (under, 6), (missing, 2), (invalid, 3), (legacy, 5)):
        put_attendees(ddb, table, key.slug, attendees)
    clock = FakeClock()
    settings = RunSettings(
        table=TableSettings(table, MODEL), settle_seconds=30, max_reads_per_second=0, brake=NO_BRAKE
    )
    clients = Clients(config=client_config(max_attempts=2), endpoint_url=ddb.meta.endpoint_url)
    reconciler = build_reconciler(settings, clients, clock=clock, sleep=clock.sleep)
    summary = reconciler.run_pass()
    reconciler.close()

    assert summary.failed is False, summary.error
    assert (summary.corrected, summary.initialized, summary.invalid) == (5, 1, 1)
    counts = {
        k.slug: int(stored(ddb, table, k)["attendeeCount"]["N"])
        for k in (over, under, missing, invalid, legacy)
    }
    assert counts == {"over": 4, "under": 6, "missing": 2, "invalid": 3, "legacy": 5}
    assert stored(ddb, table, invalid)["counterVersion"] == {"N": "4"}
    assert stored(ddb, table, legacy)["counterVersion"] == {"N": "1"}
    assert summary.consumed_read_units > 0
    assert summary.io.write_units > 0


@pytest.mark.parametrize(
    ("change", "value"),
    [
        ("SET counterVersion = counterVersion + :one", {":one": {"N": "1"}}),
        ("SET attendeeCount = :v", {":v": {"N": "8"}}),
    ],
)
def test_the_write_is_refused_when_version_or_value_changed(
    ddb: Any, table: str, change: str, value: dict[str, Any]
) -> None:
    key = EventKey("EVENT", "tech#2024-10-27#conference")
    put_event(ddb, table, key, 5, version=2)
    port = adapter(ddb, table)
    seen = port.read_counter(key)
    assert seen is not None
    ddb.update_item(
        TableName=table, Key=key_of(key), UpdateExpression=change, ExpressionAttributeValues=value
    )
    with pytest.raises(ConflictError):
        port.write_correction(Correction(key, Reason.DRIFT, seen, 0))
    port.close()
    assert stored(ddb, table, key)["attendeeCount"] != {"N": "0"}


def test_initialization_is_refused_once_the_handler_created_the_counter(
    ddb: Any, table: str
) -> None:
    key = EventKey("EVENT", "tech#2024-10-27#conference")
    put_event(ddb, table, key, None, version=None)
    port = adapter(ddb, table)
    seen = port.read_counter(key)
    assert seen is not None
    ddb.update_item(  # the handler's first ADD creates the counter
        TableName=table,
        Key=key_of(key),
        UpdateExpression="ADD attendeeCount :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    with pytest.raises(ConflictError):
        port.write_correction(Correction(key, Reason.MISSING, seen, 0))
    port.close()
    assert stored(ddb, table, key)["attendeeCount"] == {"N": "1"}


def test_a_correction_never_recreates_a_deleted_event(ddb: Any, table: str) -> None:
    key = EventKey("EVENT", "gone#2024-10-27#conference")
    put_event(ddb, table, key, None, version=None)
    port = adapter(ddb, table)
    seen = port.read_counter(key)
    assert seen is not None
    ddb.delete_item(TableName=table, Key=key_of(key))
    with pytest.raises(ConflictError):
        port.write_correction(Correction(key, Reason.MISSING, seen, 3))
    port.close()
    assert "Item" not in ddb.get_item(TableName=table, Key=key_of(key))


def test_events_stream_merged_and_grouped_across_pages(ddb: Any, table: str) -> None:
    for partition, slugs in (("FAD", "acegi"), ("EVENT", "bdbfh")):
        for i, slug in enumerate(slugs):
            put_event(ddb, table, EventKey(partition, f"{slug}#2024-01-0{i + 1}#x"), 0)
    port = adapter(ddb, table, page_size=2)
    groups = list(port.events())
    port.close()
    assert [g.slug for g in groups] == list("abcdefghi")
    assert [len(g.keys) for g in groups if g.ambiguous] == [2]


def test_the_read_limit_paces_reads_by_consumed_capacity(ddb: Any, table: str) -> None:
    put_attendees(ddb, table, "big", 1200, padding=450)  # ~0.6 MB: ~150 read units per count
    put_event(ddb, table, EventKey("EVENT", "big#2024-10-27#conference"), 1200)
    clock = FakeClock()
    limiter = ReadRateLimiter(50, clock=clock, sleep=clock.sleep)
    port = DynamoReconcileTable(ddb, table, MODEL, limiter)
    port.count_attendees("big")
    port.count_attendees("big")
    consumed = port.stats().read_units
    port.close()
    # The second count had to wait for the first one's debt: (consumed - burst) / rate, about.
    waited = sum(clock.slept)
    assert consumed > 100
    assert waited == pytest.approx((consumed / 2 - 50 + 1) / 50, rel=0.2)


def scan_settings(table: str, **overrides: Any) -> RunSettings:
    values: dict[str, Any] = {
        "table": TableSettings(table, MODEL),
        "settle_seconds": 30,
        "max_reads_per_second": 0,
        "brake": NO_BRAKE,
        "sweep": SweepMode.SCAN,
        "concurrency": 4,
    }
    values.update(overrides)
    return RunSettings(**values)


def scan_pass(ddb: Any, settings: RunSettings) -> PassSummary:
    clock = FakeClock()
    clients = Clients(config=client_config(max_attempts=2), endpoint_url=ddb.meta.endpoint_url)
    reconciler = build_reconciler(settings, clients, clock=clock, sleep=clock.sleep)
    try:
        return reconciler.run_pass()
    finally:
        reconciler.close()


def test_a_scan_pass_corrects_the_drift_flags_the_ambiguous_and_ignores_orphans(
    ddb: Any, table: str
) -> None:
    fine = [EventKey("EVENT", f"fine{i}#2024-10-27#talk") for i in range(5)]
    over, unset = EventKey("FAD", "over#2024-10-27#x"), EventKey("EVENT", "unset#2024-11-01#x")
    for key in fine:
        put_event(ddb, table, key, 3)
        put_attendees(ddb, table, key.slug, 3)
    put_event(ddb, table, over, 9)
    put_event(ddb, table, unset, None, version=None)
    put_event(ddb, table, EventKey("FAD", "dup#2024-01-01#x"), 1)
    put_event(ddb, table, EventKey("EVENT", "dup#2024-01-01#x"), 1)
    for slug, count in (("over", 4), ("unset", 2), ("dup", 1), ("orphan", 6)):
        put_attendees(ddb, table, slug, count)

    summary = scan_pass(ddb, scan_settings(table))

    assert summary.failed is False, summary.error
    assert summary.sweep == "scan"
    assert (summary.events_checked, summary.scanned_in_sync, summary.ambiguous) == (8, 5, 1)
    assert (summary.corrected, summary.initialized) == (2, 1)
    assert stored(ddb, table, over)["attendeeCount"] == {"N": "4"}
    assert stored(ddb, table, unset)["attendeeCount"] == {"N": "2"}


def test_a_scan_sweep_consumes_about_the_table_size_minimum(ddb: Any, table: str) -> None:
    # GIVEN many small events in sync, enough data that a page's rounding up is negligible
    for i in range(300):
        key = EventKey("EVENT" if i % 2 else "FAD", f"e{i:03d}#2024-10-27#talk")
        put_event(ddb, table, key, 3, version=i)
        put_attendees(ddb, table, key.slug, 3, padding=120)
    everything = ddb.scan(TableName=table)
    assert "LastEvaluatedKey" not in everything
    minimum = sum(item_size(item) for item in everything["Items"]) / 4096 / 2
    # WHEN a scan pass reads it
    summary = scan_pass(ddb, scan_settings(table))
    # THEN every event was found in sync by the scan alone, for about the table's size in units
    assert summary.scanned_in_sync == 300
    assert minimum <= summary.consumed_read_units <= 1.1 * minimum
    assert set(summary.io.requests) == {"Scan"}
