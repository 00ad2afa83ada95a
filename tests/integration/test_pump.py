"""The local event source mapping against a moto stream."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.devtools.pump.faults import FaultPlan
from reconciler.devtools.pump.lambda_shape import Handler
from reconciler.devtools.pump.mapping import (
    PumpConfig,
    StreamPump,
    StreamUnavailableError,
    stream_arn_for,
)
from reconciler.handler.entry import lambda_function
from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.model import EventKey
from tests.integration.traffic import Table

WORKSHOP = EventKey("EVENT", "workshop#2024-11-15#workshop")
TECH = EventKey("FAD", "tech-summit-2024#2024-10-27#conference")


class VirtualTime:
    """A clock that only moves when the pump sleeps: window logic without real waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Recorder:
    """A handler that records each delivery and answers from a script, then delegates to the
    real handler (as the Lambda entry point calls it), if given one."""

    def __init__(self, inner: Handler | None = None, answers: list[object] | None = None) -> None:
        self.inner = inner
        self.answers = list(answers or [])
        self.deliveries: list[list[str]] = []
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> object:
        self.events.append(event)
        self.deliveries.append([r["dynamodb"]["SequenceNumber"] for r in event["Records"]])
        if self.answers:
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            if callable(answer):
                return answer(event)
            return answer
        if self.inner is not None:
            return self.inner(event, context)
        return None


def fail_at(index: int) -> Any:
    def answer(event: dict[str, Any]) -> dict[str, Any]:
        identifier = event["Records"][index]["dynamodb"]["SequenceNumber"]
        return {"batchItemFailures": [{"itemIdentifier": identifier}]}

    return answer


@pytest.fixture
def table(clients, table_name) -> Table:  # type: ignore[no-untyped-def]
    return Table(clients, table_name)


def pump(
    table: Table,
    handler: Any,
    *,
    faults: FaultPlan | None = None,
    time_: VirtualTime | None = None,
    **config: Any,
) -> StreamPump:
    settings = {"batching_window": 0.0, **config}
    time_ = time_ or VirtualTime()
    return StreamPump(
        table.clients.streams(),
        table.stream_arn(),
        handler,
        region="us-east-1",
        config=PumpConfig(**settings),
        faults=faults,
        clock=time_.clock,
        sleep=time_.sleep,
    )


def registrations(table: Table, slug: str, n: int) -> None:
    for i in range(n):
        table.register(slug, f"{slug}-{i}@example.com")


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


# --- the CLI ---------------------------------------------------------------------------------


def test_pump_cli_drains_through_the_handler_and_prints_a_summary(
    aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from reconciler.cli import main
    from reconciler.kernel.aws import Clients

    env = {"TABLE_NAME": "cli-registrations", "RECONCILER_BATCHING_WINDOW": "0"}
    # GIVEN an empty endpoint: --create-table makes the table with its stream
    assert main(["pump", "--endpoint-url", aws, "--create-table"], env=env) == 0
    table = Table(Clients(endpoint_url=aws), "cli-registrations")
    table.put_event(WORKSHOP)
    registrations(table, "workshop", 12)
    capsys.readouterr()

    code = main(
        ["pump", "--endpoint-url", aws, "--duplicate-batches", "0", "--batch-size", "5"], env=env
    )

    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["pump"]["duplicated_batches"] == 1
    # 13 written records, plus the handler's own counter updates feeding back as MODIFYs
    assert summary["pump"]["records_read"] == 13 + summary["handler"]["CounterUpdatesApplied"]
    assert summary["handler"]["RecordsInsert"] == 12 + 4
    assert summary["handler"]["DuplicateRecordsSkipped"] == 4
    assert table.stored(WORKSHOP) == 12


@pytest.mark.parametrize(
    ("argv", "setting"),
    [
        (["--batch-size", "0"], "--batch-size"),
        (["--drop-batches", "one"], "--drop-batches"),
        (["--duplicate-rate", "2"], "--duplicate-rate"),
        (["--starting-position", "AT_TIMESTAMP"], "--starting-position"),
    ],
)
def test_pump_cli_rejects_bad_settings_naming_them(
    argv: list[str], setting: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from reconciler.cli import main

    assert main(["pump", *argv], env={"TABLE_NAME": "t"}) == 2
    assert setting in capsys.readouterr().err


def test_pump_cli_without_a_stream_fails_clearly(
    clients,
    aws: str,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    from reconciler.cli import main

    clients.dynamodb().create_table(
        TableName="plain",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert main(["pump", "--endpoint-url", aws, "--table-name", "plain"], env={}) == 1
    assert "no enabled stream" in capsys.readouterr().err
