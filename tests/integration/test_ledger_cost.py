"""What the ledger costs, per record, counted from the requests the handler really sends.

moto reports no consumed capacity for transactions, so the units are derived from each request
with DynamoDB's published rules: a transactional write costs 2 write units per item per KB, a
strongly consistent read 1 read unit per item per 4 KB, a Query at least 1 read unit. Every item
here is far below 1 KB (checked), so each costs the minimum.
"""

from __future__ import annotations

import json
import math
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import pytest

from tests.integration.stream_handler_support import TECH
from tests.integration.traffic import Table


@dataclass
class Units:
    read: float = 0.0
    write: float = 0.0
    requests: dict[str, int] = field(default_factory=dict)


def _size(value: Any) -> int:
    """An upper bound of a DynamoDB item's size: its attribute names and JSON-encoded values."""
    return len(json.dumps(value, default=str))


@pytest.fixture
def table(clients, table_name) -> Table:  # type: ignore[no-untyped-def]
    return Table(clients, table_name)


@pytest.mark.parametrize(
    ("per_batch", "write_units_per_record", "read_units_per_record"),
    [(1, 4.0, 4.0), (10, 2.2, 1.3), (100, 2.04, 1.04)],
)
def test_write_and_read_units_per_record_at_1_10_and_100_records_per_event_per_batch(
    table: Table,
    per_batch: int,
    write_units_per_record: float,
    read_units_per_record: float,
) -> None:
    table.put_event(TECH)
    for i in range(per_batch):
        table.register("tech-summit-2024", f"p{i}@example.com")
    records = table.attendee_records()
    assert len(records) == per_batch
    handler = table.handler()
    tally = Units()
    counted = _counting(table, tally)
    try:
        handler.handle({"Records": records})
    finally:
        counted()
    assert table.stored(TECH) == per_batch
    # 2 per entry and 2 for the counter, per transaction of at most 99 entries
    assert tally.write / per_batch == pytest.approx(write_units_per_record)
    # 2 lookup Queries (the FAD and EVENT partitions), 1 per entry read and 1 for the counter
    assert tally.read / per_batch == pytest.approx(read_units_per_record)
    if per_batch == 10:
        assert tally.write / per_batch <= 2.5


def test_a_modify_of_a_present_attendee_costs_a_read_and_no_write(table: Table) -> None:
    table.put_event(TECH)
    table.register("tech-summit-2024", "p@example.com")
    handler = table.handler()
    handler.handle({"Records": table.attendee_records()})
    table.change_profession("tech-summit-2024", "p@example.com", "Architect")
    modify = [r for r in table.attendee_records() if r["eventName"] == "MODIFY"]
    with_insert = [*modify, *[r for r in table.attendee_records() if r["eventName"] == "INSERT"]]
    tally = Units()
    counted = _counting(table, tally)
    try:
        handler.handle({"Records": with_insert})
    finally:
        counted()
    assert tally.write == 0
    assert table.stored(TECH) == 1


def _counting(table: Table, tally: Units) -> Callable[[], None]:
    def count(model: Any, params: dict[str, Any], **_kwargs: Any) -> None:
        name = model.name
        tally.requests[name] = tally.requests.get(name, 0) + 1
        if name == "TransactWriteItems":
            for action in params["TransactItems"]:
                body = next(iter(action.values()))
                size = _size(body.get("Item", body.get("Key")))
                assert size < 1024
                tally.write += 2 * math.ceil(size / 1024)
        elif name == "BatchGetItem":
            tally.read += sum(len(request["Keys"]) for request in params["RequestItems"].values())
        elif name == "Query":
            tally.read += 1

    events = table.ddb.meta.events
    events.register("before-parameter-build.dynamodb", count)
    return lambda: events.unregister("before-parameter-build.dynamodb", count)
