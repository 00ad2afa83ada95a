"""The handler against a moto stream, delivered the same records again: a batch, or any tail
of it, changes no counter, even after a reconciler correction or over a counterSeq someone
overwrote."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.kernel import deployment_spec as spec
from tests.integration.stream_handler_support import TECH, WORKSHOP, deliver, total
from tests.integration.traffic import Table


@pytest.fixture
def table(clients, table_name) -> Table:  # type: ignore[no-untyped-def]
    return Table(clients, table_name)


@pytest.fixture
def applied_batch(table: Table) -> list[dict[str, Any]]:
    """A batch mixing two events, every kind of change, already applied once."""
    table.put_event(TECH, 2)
    table.put_event(WORKSHOP, 0)
    table.register("tech-summit-2024", "t1@example.com")
    table.register("workshop", "w1@example.com")
    table.register("tech-summit-2024", "t2@example.com")
    table.unregister("tech-summit-2024", "t1@example.com")
    table.change_profession("workshop", "w1@example.com", "Chemist")
    table.register("workshop", "w2@example.com")
    table.unregister("workshop", "w1@example.com")
    table.register("tech-summit-2024", "t3@example.com")
    records = table.attendee_records()
    assert len(records) == 8
    deliver(table, records)
    assert (table.stored(TECH), table.stored(WORKSHOP)) == (4, 1)
    return records


def test_replayed_batch_changes_no_counter(
    table: Table, applied_batch: list[dict[str, Any]]
) -> None:
    before = (table.item(TECH), table.item(WORKSHOP))
    deliver(table, applied_batch)
    assert (table.item(TECH), table.item(WORKSHOP)) == before
    assert total(table, spec.METRIC_DUPLICATES_SKIPPED) == 8


@pytest.mark.parametrize("start", range(1, 8))
def test_replay_from_any_record_onward_changes_no_counter(
    table: Table, applied_batch: list[dict[str, Any]], start: int
) -> None:
    before = (table.item(TECH), table.item(WORKSHOP))
    deliver(table, applied_batch[start:])
    assert (table.item(TECH), table.item(WORKSHOP)) == before


def test_replay_after_a_reconciler_correction_changes_nothing(
    table: Table, applied_batch: list[dict[str, Any]]
) -> None:
    # GIVEN the reconciler corrected the count meanwhile (and bumped the version)
    table.ddb.update_item(
        TableName=table.name,
        Key={"pk": {"S": TECH.partition}, "sk": {"S": TECH.sort_key}},
        UpdateExpression="SET attendeeCount = :c ADD counterVersion :one",
        ExpressionAttributeValues={":c": {"N": "3"}, ":one": {"N": "1"}},
    )
    deliver(table, applied_batch)
    assert table.stored(TECH) == 3


@pytest.mark.parametrize(
    "stored",
    [{"N": "5"}, {"S": "not-a-sequence"}, {"S": "9" * 40}],
    ids=["number", "garbage string", "too high"],
)
def test_a_counter_seq_of_any_shape_is_ignored_and_never_silences_the_event(
    table: Table, stored: dict[str, str]
) -> None:
    # GIVEN an event item whose counterSeq (the watermark before the ledger) was overwritten,
    # or set too high by a restore or a copy from another table
    table.put_event(WORKSHOP, 2)
    table.ddb.update_item(
        TableName=table.name,
        Key={"pk": {"S": WORKSHOP.partition}, "sk": {"S": WORKSHOP.sort_key}},
        UpdateExpression="SET counterSeq = :s",
        ExpressionAttributeValues={":s": stored},
    )
    table.register("workshop", "w@example.com")
    records = table.attendee_records()
    # WHEN the registration is delivered, and delivered again
    deliver(table, records)
    deliver(table, records)
    # THEN it counts once, and the old watermark is left as it was
    item = table.item(WORKSHOP)
    assert item["attendeeCount"] == {"N": "3"}
    assert item["counterSeq"] == stored
