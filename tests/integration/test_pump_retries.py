"""How the local event source mapping answers a handler, as Lambda's does: partial failures
are retried from the lowest reported record, invalid reports retry the whole batch, a raising
handler gets the batch again (or halves of it), and after the last retry the batch is dropped.
"""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.handler.entry import lambda_function
from tests.integration.pump_support import TECH, WORKSHOP, Recorder, fail_at, pump, registrations
from tests.integration.traffic import Table


@pytest.fixture
def table(clients, table_name) -> Table:  # type: ignore[no-untyped-def]
    return Table(clients, table_name)


def test_partial_failure_is_retried_from_the_reported_record(table: Table) -> None:
    registrations(table, "workshop", 6)
    recorder = Recorder(answers=[fail_at(3)])
    stats = pump(table, recorder).drain()
    first, retry = recorder.deliveries
    assert retry == first[3:]
    assert (stats.partial_failures, stats.retries) == (1, 1)


def test_lowest_of_several_reported_failures_wins(table: Table) -> None:
    registrations(table, "workshop", 6)

    def two_failures(event: dict[str, Any]) -> dict[str, Any]:
        numbers = [r["dynamodb"]["SequenceNumber"] for r in event["Records"]]
        return {
            "batchItemFailures": [{"itemIdentifier": numbers[4]}, {"itemIdentifier": numbers[2]}]
        }

    recorder = Recorder(answers=[two_failures])
    pump(table, recorder).drain()
    assert recorder.deliveries[1] == recorder.deliveries[0][2:]


@pytest.mark.parametrize(
    "answer",
    [
        {"batchItemFailures": [{"itemIdentifier": ""}]},
        {"batchItemFailures": [{"itemIdentifier": None}]},
        {"batchItemFailures": [{"sequenceNumber": "1"}]},
        {"batchItemFailures": [{"itemIdentifier": "999"}]},
    ],
    ids=["empty", "null", "bad key name", "not in batch"],
)
def test_invalid_failure_reports_retry_the_whole_batch(table: Table, answer: object) -> None:
    registrations(table, "workshop", 4)
    recorder = Recorder(answers=[answer])
    pump(table, recorder).drain()
    assert recorder.deliveries[1] == recorder.deliveries[0]


@pytest.mark.parametrize(
    "answer", [None, {}, {"batchItemFailures": []}, {"batchItemFailures": None}]
)
def test_success_responses_move_on(table: Table, answer: object) -> None:
    registrations(table, "workshop", 4)
    recorder = Recorder(answers=[answer])
    stats = pump(table, recorder).drain()
    assert len(recorder.deliveries) == 1
    assert stats.retries == 0


def test_raising_handler_gets_the_whole_batch_again(table: Table) -> None:
    registrations(table, "workshop", 4)
    recorder = Recorder(answers=[RuntimeError("boom")])
    stats = pump(table, recorder, bisect_on_error=False).drain()
    assert recorder.deliveries[1] == recorder.deliveries[0]
    assert stats.handler_errors == 1


def test_raising_handler_gets_halves_when_bisecting(table: Table) -> None:
    registrations(table, "workshop", 4)
    recorder = Recorder(answers=[RuntimeError("boom")])
    pump(table, recorder, bisect_on_error=True).drain()
    whole, first_half, second_half = recorder.deliveries
    assert (first_half, second_half) == (whole[:2], whole[2:])


def test_batch_is_dropped_after_max_retries_and_the_stream_moves_on(table: Table) -> None:
    registrations(table, "workshop", 15)
    recorder = Recorder(answers=[fail_at(2)] * 3)
    stats = pump(table, recorder, max_retries=2).drain()
    # first delivery + 2 retries of the failing batch; the last 4 records are given up
    assert [len(d) for d in recorder.deliveries] == [10, 8, 6, 5]
    assert (stats.batches_dropped_after_retries, stats.records_dropped_after_retries) == (1, 4)
    assert recorder.deliveries[3][0] not in recorder.deliveries[0]


def test_zero_retries_drops_on_the_first_failure(table: Table) -> None:
    registrations(table, "workshop", 3)
    recorder = Recorder(answers=[fail_at(0)])
    stats = pump(table, recorder, max_retries=0).drain()
    assert len(recorder.deliveries) == 1
    assert stats.records_dropped_after_retries == 3


def test_partial_failures_from_the_real_handler_end_with_exact_counts(table: Table) -> None:
    """A transient failure on the first delivery is retried from the right record."""
    table.put_event(WORKSHOP)
    table.put_event(TECH)
    for i in range(4):
        table.register("tech-summit-2024", f"t{i}@example.com")
        table.register("workshop", f"w{i}@example.com")
    handler = table.handler()
    calls = {"n": 0}

    def flaky(event: dict[str, Any]) -> object:
        calls["n"] += 1
        # apply the batch, then pretend the workshop's update failed: Lambda re-delivers
        handler.handle(event)
        return fail_at(1)(event)

    recorder = Recorder(lambda_function(handler), answers=[flaky])
    pump(table, recorder).drain()
    assert (table.stored(TECH), table.stored(WORKSHOP)) == (4, 4)
