"""The local mapping's concurrency against a moto stream: a parallelization factor (batches of
one shard delivered concurrently, order kept per item) and a split hot key (one event's
attendees spread over two concurrently processed shards). The ledger keeps the counts exact."""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import pytest

from reconciler.devtools.pump.faults import FaultPlan
from reconciler.handler.entry import lambda_function
from reconciler.kernel.model import pad_sequence
from tests.integration.pump_support import TECH, WORKSHOP, pump, registrations
from tests.integration.serial_moto import aws  # noqa: F401 - one request at a time
from tests.integration.traffic import Table


@pytest.fixture
def table(clients, table_name) -> Table:  # type: ignore[no-untyped-def]
    return Table(clients, table_name)


class Overlap:
    """The real handler behind a short pause, noting how many invocations ran at once and
    the order each item's records reached it."""

    def __init__(self, table: Table) -> None:
        self.inner = lambda_function(table.handler())
        self.lock = threading.Lock()
        self.running = 0
        self.most = 0
        self.seen: dict[str, list[str]] = {}

    def __call__(self, event: dict[str, Any], context: Any) -> object:
        with self.lock:
            self.running += 1
            self.most = max(self.most, self.running)
            for record in event["Records"]:
                keys = record["dynamodb"]["Keys"]
                item = f"{keys['pk']['S']}/{keys['sk']['S']}"
                self.seen.setdefault(item, []).append(record["dynamodb"]["SequenceNumber"])
        try:
            time.sleep(0.02)
            return self.inner(event, context)
        finally:
            with self.lock:
                self.running -= 1

    def each_item_in_stream_order(self) -> bool:
        return all(
            [pad_sequence(n) for n in numbers] == sorted(pad_sequence(n) for n in numbers)
            for numbers in self.seen.values()
        )


def churn(table: Table) -> None:
    """Two events' registrations, cancellations and re-registrations, interleaved."""
    table.put_event(WORKSHOP)
    table.put_event(TECH)
    registrations(table, "workshop", 14)
    registrations(table, "tech-summit-2024", 6)
    for n in (2, 5, 9):
        table.unregister("workshop", f"workshop-{n}@example.com")
    table.register("workshop", "workshop-5@example.com")
    table.unregister("tech-summit-2024", "tech-summit-2024-1@example.com")
    table.change_profession("workshop", "workshop-7@example.com", "Chemist")


def test_a_parallelization_factor_delivers_batches_concurrently_and_counts_exactly(
    table: Table,
) -> None:
    churn(table)
    handler = Overlap(table)

    stats = pump(table, handler, batch_size=3, parallelization_factor=4).drain()

    assert handler.most > 1
    assert handler.each_item_in_stream_order()
    assert stats.records_delivered == stats.records_read
    assert table.stored(WORKSHOP) == table.true_count("workshop") == 12
    assert table.stored(TECH) == table.true_count("tech-summit-2024") == 5


def test_a_split_hot_key_spreads_one_event_over_two_concurrent_shards_and_counts_exactly(
    table: Table,
) -> None:
    churn(table)
    handler = Overlap(table)

    pump(table, handler, batch_size=2, split_hot_key="workshop#ATTENDEE").drain()

    assert handler.most > 1
    assert handler.each_item_in_stream_order()
    assert table.stored(WORKSHOP) == table.true_count("workshop") == 12
    assert table.stored(TECH) == table.true_count("tech-summit-2024") == 5


def test_concurrent_lanes_with_duplicated_batches_still_count_each_change_once(
    table: Table,
) -> None:
    churn(table)
    faults = FaultPlan(duplicate_rate=0.5, seed=3)
    handler = Overlap(table)

    stats = pump(
        table,
        handler,
        faults=faults,
        batch_size=2,
        parallelization_factor=3,
        split_hot_key="workshop#ATTENDEE",
    ).drain()

    assert stats.duplicated_batches > 0
    assert table.stored(WORKSHOP) == table.true_count("workshop") == 12
    assert table.stored(TECH) == table.true_count("tech-summit-2024") == 5


def test_pump_cli_takes_a_parallelization_factor_and_a_split_hot_key(
    aws: str,  # noqa: F811 - the serial moto
    capsys: pytest.CaptureFixture[str],
) -> None:
    from reconciler.cli import main
    from reconciler.kernel.aws import Clients

    env = {"TABLE_NAME": "cli-lanes", "RECONCILER_BATCHING_WINDOW": "0"}
    assert main(["pump", "--endpoint-url", aws, "--create-table"], env=env) == 0
    churn(Table(Clients(endpoint_url=aws), "cli-lanes"))
    capsys.readouterr()

    argv = ["pump", "--endpoint-url", aws, "--batch-size", "2", "--parallelization-factor", "3"]
    code = main([*argv, "--split-hot-key", "workshop#ATTENDEE"], env=env)

    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["pump"]["records_delivered"] == summary["pump"]["records_read"]
    table = Table(Clients(endpoint_url=aws), "cli-lanes")
    assert table.stored(WORKSHOP) == table.true_count("workshop") == 12
    assert table.stored(TECH) == table.true_count("tech-summit-2024") == 5
