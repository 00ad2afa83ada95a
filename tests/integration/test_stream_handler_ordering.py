"""What AWS promises about order is less than one event's watermark needs: per item only.

Batches of one event arriving out of order (a split hot partition, a parallelization factor above
1) are counted once each on a moto server. Deliveries racing each other are tested on the fake
store with the interleaving forced (tests/unit/test_stream_handler_races.py): moto does not
isolate concurrent transactions, so a race there would test moto.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.stream_handler_support import TECH, deliver
from tests.integration.traffic import Table


@pytest.fixture
def table(clients, table_name) -> Table:  # type: ignore[no-untyped-def]
    return Table(clients, table_name)


def registrations(table: Table, count: int) -> list[dict[str, Any]]:
    table.put_event(TECH)
    for i in range(count):
        table.register("tech-summit-2024", f"p{i}@example.com")
    records = table.attendee_records()
    assert len(records) == count
    return records


def test_a_later_batch_applied_before_an_earlier_one_loses_no_registration(table: Table) -> None:
    # GIVEN twenty genuine registrations of one event, the second ten delivered first
    records = registrations(table, 20)
    deliver(table, records[10:])
    deliver(table, records[:10])
    # THEN every one is counted (a per-event watermark would have dropped the first ten)
    assert table.stored(TECH) == table.true_count("tech-summit-2024") == 20
