"""The reconciler against a moto server repairs the drift the stream's faults leave behind:
a duplicated batch over-counts, a dropped one under-counts, and the handler keeps counting
correctly after the correction."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest

from reconciler.devtools.pump import FaultPlan
from reconciler.kernel.aws import Clients
from tests.integration.reconcile_pass import AI, TECH, WORKSHOP, pump_for, register, run_pass
from tests.integration.traffic import Table


@pytest.fixture
def table(clients: Clients, table_name: str) -> Table:
    return Table(clients, table_name)


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


def test_a_string_counter_version_is_replaced_by_an_integer_and_the_count_set(
    table: Table,
) -> None:
    # GIVEN an event whose counterVersion someone wrote as a string (the handler skips it)
    table.put_event(TECH, 1)
    table.ddb.update_item(
        TableName=table.name,
        Key={"pk": {"S": TECH.partition}, "sk": {"S": TECH.sort_key}},
        UpdateExpression="SET counterVersion = :v",
        ExpressionAttributeValues={":v": {"S": "v7"}},
    )
    register(table, TECH.slug, 3)
    # WHEN a pass runs
    summary = run_pass(table)
    # THEN the count is exact and the version an integer the handler can ADD to again
    assert table.stored(TECH) == 3
    assert table.item(TECH)["counterVersion"] == {"N": "1"}
    assert (summary.unsupported, summary.versions_replaced, summary.corrected) == (1, 1, 1)


def test_a_correction_whose_response_was_lost_is_applied_not_a_conflict(table: Table) -> None:
    # GIVEN a drifted event, and a network that loses the response of the first write
    table.put_event(TECH, 1)
    register(table, TECH.slug, 4)
    ddb = table.clients.dynamodb()
    lost: list[str] = []

    def lose_the_first_response(**kwargs: Any) -> int | None:
        operation = getattr(kwargs.get("operation"), "name", "")
        if operation == "UpdateItem" and kwargs.get("caught_exception") is None and not lost:
            lost.append(operation)
            return 0  # botocore retries at once; the retry's own condition refuses it
        return None

    ddb.meta.events.register("needs-retry.dynamodb", lose_the_first_response, unique_id="lose")
    try:
        summary = run_pass(table)
    finally:
        ddb.meta.events.unregister("needs-retry.dynamodb", unique_id="lose")
    # THEN the read-back finds the write: applied, not a conflict
    assert lost == ["UpdateItem"]
    assert table.stored(TECH) == 4
    assert (summary.corrected, summary.conflicts, summary.lost_responses) == (1, 0, 1)
