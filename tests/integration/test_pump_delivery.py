"""The local event source mapping against a moto stream: what it delivers (Lambda's event
shape, batch size and window, the deployed defaults, follow mode and starting position) and
the faults it injects on purpose (duplicated, dropped and delayed batches)."""

from __future__ import annotations

import json

import pytest

from reconciler.devtools.pump.faults import FaultPlan
from reconciler.devtools.pump.mapping import PumpConfig, StreamUnavailableError, stream_arn_for
from reconciler.handler.entry import lambda_function
from reconciler.kernel import deployment_spec as spec
from tests.integration.pump_support import (
    TECH,
    WORKSHOP,
    Recorder,
    VirtualTime,
    pump,
    registrations,
)
from tests.integration.traffic import Table


@pytest.fixture
def table(clients, table_name) -> Table:  # type: ignore[no-untyped-def]
    return Table(clients, table_name)


def test_records_arrive_shaped_exactly_as_lambda_sends_them(table: Table) -> None:
    table.put_event(WORKSHOP)
    table.register("workshop", "a@example.com")
    table.unregister("workshop", "a@example.com")
    recorder = Recorder()
    pump(table, recorder).drain()

    records = recorder.events[0]["Records"]
    assert [r["eventName"] for r in records] == ["INSERT", "INSERT", "REMOVE"]
    insert = records[1]
    assert set(insert) == {
        "eventID",
        "eventName",
        "eventVersion",
        "eventSource",
        "awsRegion",
        "dynamodb",
        "eventSourceARN",
    }
    assert insert["eventVersion"] == "1.1"
    assert insert["eventSource"] == "aws:dynamodb"
    assert insert["awsRegion"] == "us-east-1"
    assert insert["eventSourceARN"] == table.stream_arn()
    body = insert["dynamodb"]
    assert isinstance(body["ApproximateCreationDateTime"], int)
    assert body["Keys"] == {"pk": {"S": "workshop#ATTENDEE"}, "sk": {"S": "a@example.com"}}
    assert body["NewImage"]["email"] == {"S": "a@example.com"}
    assert "OldImage" not in body
    assert isinstance(body["SequenceNumber"], str)
    assert isinstance(body["SizeBytes"], int)
    assert body["StreamViewType"] == "NEW_AND_OLD_IMAGES"
    assert "NewImage" not in records[2]["dynamodb"]
    assert "OldImage" in records[2]["dynamodb"]
    # and the event survives a JSON round trip unchanged, as Lambda's payload must
    assert json.loads(json.dumps(recorder.events[0])) == recorder.events[0]


def test_batches_hold_at_most_the_batch_size_in_stream_order(table: Table) -> None:
    registrations(table, "workshop", 23)
    recorder = Recorder()
    stats = pump(table, recorder, batch_size=10).drain()
    assert [len(d) for d in recorder.deliveries] == [10, 10, 3]
    flat = [int(s) for d in recorder.deliveries for s in d]
    assert flat == sorted(flat)
    assert (stats.records_read, stats.batches, stats.invocations) == (23, 3, 3)


def test_a_partial_batch_waits_for_the_batching_window(table: Table) -> None:
    registrations(table, "workshop", 3)
    time_ = VirtualTime()
    recorder = Recorder()
    pump(table, recorder, time_=time_, batching_window=5.0).drain()
    assert len(recorder.deliveries[0]) == 3
    assert sum(time_.sleeps) == pytest.approx(5.0)


def test_default_configuration_is_the_deployed_mapping() -> None:
    config = PumpConfig()
    assert config.batch_size == spec.BATCH_SIZE == 10
    assert config.batching_window == spec.BATCHING_WINDOW_SECONDS
    assert config.max_retries == spec.MAX_RETRY_ATTEMPTS


def test_follow_mode_delivers_records_written_while_it_runs(table: Table) -> None:
    registrations(table, "workshop", 2)
    recorder = Recorder()
    rounds = iter(range(100))
    writer_done: dict[str, bool] = {"done": False}

    def stop() -> bool:
        n = next(rounds)
        if n == 3 and not writer_done["done"]:
            registrations(table, "tech-summit-2024", 3)
            writer_done["done"] = True
        return n > 8

    stats = pump(table, recorder).follow(stop)
    assert stats.records_read == 5
    assert sum(len(d) for d in recorder.deliveries) == 5


def test_latest_starting_position_skips_existing_records(table: Table) -> None:
    registrations(table, "workshop", 3)
    recorder = Recorder()
    p = pump(table, recorder, starting_position="LATEST")
    p.step()
    registrations(table, "tech-summit-2024", 2)
    p.drain()
    assert sum(len(d) for d in recorder.deliveries) == 2


def test_table_without_a_stream_is_a_clear_error(clients) -> None:  # type: ignore[no-untyped-def]
    ddb = clients.dynamodb()
    ddb.create_table(
        TableName="no-stream",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    with pytest.raises(StreamUnavailableError, match="no-stream"):
        stream_arn_for(ddb, "no-stream")


def test_pumped_traffic_with_duplicated_batches_counts_exactly(table: Table) -> None:
    table.put_event(WORKSHOP)
    table.put_event(TECH)
    registrations(table, "workshop", 12)
    registrations(table, "tech-summit-2024", 9)
    table.unregister("workshop", "workshop-3@example.com")
    recorder = Recorder(lambda_function(table.handler()))

    stats = pump(table, recorder, faults=FaultPlan(duplicate_batches=frozenset({0, 2}))).drain()

    assert stats.duplicated_batches == 2
    assert recorder.deliveries[0] == recorder.deliveries[1]
    assert table.stored(WORKSHOP) == table.true_count("workshop") == 11
    assert table.stored(TECH) == table.true_count("tech-summit-2024") == 9
    skipped = sum(
        json.loads(line)["DuplicateRecordsSkipped"] for line in table.emf.getvalue().splitlines()
    )
    # batch 0 held the two event items and 8 registrations, batch 2 the last 4 attendee records
    assert skipped == 8 + 4


def test_dropped_batch_is_lost_drift(table: Table) -> None:
    table.put_event(WORKSHOP)
    registrations(table, "workshop", 25)
    recorder = Recorder(lambda_function(table.handler()))

    stats = pump(table, recorder, faults=FaultPlan(drop_batches=frozenset({1}))).drain()

    assert (stats.injected_drops, stats.records_dropped_injected) == (1, 10)
    assert stats.records_delivered == stats.records_read - 10
    assert table.stored(WORKSHOP) == 15
    assert table.true_count("workshop") == 25


def test_delayed_batch_waits_before_delivery(table: Table) -> None:
    registrations(table, "workshop", 3)
    time_ = VirtualTime()
    faults = FaultPlan(delay_batches=frozenset({0}), delay_seconds=2.5)
    pump(table, Recorder(), faults=faults, time_=time_).drain()
    assert 2.5 in time_.sleeps


def test_seeded_fault_rates_are_reproducible() -> None:
    plan = FaultPlan(duplicate_rate=0.3, drop_rate=0.2, delay_rate=0.1, delay_seconds=1, seed=7)
    first = [plan.faults_for(i) for i in range(50)]
    again = [
        FaultPlan(
            duplicate_rate=0.3, drop_rate=0.2, delay_rate=0.1, delay_seconds=1, seed=7
        ).faults_for(i)
        for i in range(50)
    ]
    assert first == again
    assert any(f.drop for f in first)
    assert any(f.duplicate for f in first)
    assert not any(f.drop and f.duplicate for f in first)
