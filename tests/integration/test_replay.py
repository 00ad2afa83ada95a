"""``reconciler replay`` on a moto server: a batch the local mapping dropped reaches the
on-failure queue, and replaying its message applies exactly that range, once, however much of
it was applied before; a range that left the stream is kept and reported, and a dry run changes
nothing."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from reconciler.cli import main
from reconciler.devtools.pump import PumpConfig, StreamPump
from reconciler.devtools.pump.on_failure import SqsOnFailure
from reconciler.handler.entry import lambda_function
from tests.integration.pump_support import WORKSHOP, registrations
from tests.integration.terminal import ANSI, stdout_is_a_terminal
from tests.integration.traffic import Table

ATTENDEES = 12


@pytest.fixture
def table(clients, table_name) -> Table:  # type: ignore[no-untyped-def]
    table = Table(clients, table_name)
    table.put_event(WORKSHOP)
    registrations(table, "workshop", ATTENDEES)
    return table


@pytest.fixture
def queue_url(clients) -> str:  # type: ignore[no-untyped-def]
    return str(clients.sqs().create_queue(QueueName="on-failure")["QueueUrl"])


def _env(table: Table) -> dict[str, str]:
    return {"TABLE_NAME": table.name, "RECONCILER_BATCHING_WINDOW": "0"}


def _pump_dropping_batch_1(
    table: Table, aws: str, queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["pump", "--endpoint-url", aws, "--batch-size", "5", "--drop-batches", "1"]
    assert main([*argv, "--on-failure-queue-url", queue_url], env=_env(table)) == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["pump"]["on_failure_messages"] == 1


def _replay(
    table: Table, queue_url: str, capsys: pytest.CaptureFixture[str], *flags: str
) -> tuple[int, dict[str, Any], str]:
    code = main(["replay", "--queue-url", queue_url, "--once", *flags], env=_env(table))
    captured = capsys.readouterr()
    return code, json.loads(captured.out.strip().splitlines()[-1]), captured.out + captured.err


def _messages(table: Table, queue_url: str) -> int:
    attributes = table.clients.sqs().get_queue_attributes(
        QueueUrl=queue_url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return sum(int(value) for value in attributes.values())


def _bodies(table: Table, queue_url: str) -> list[str]:
    """The queue's messages, read and handed straight back."""
    sqs = table.clients.sqs()
    messages = sqs.receive_message(QueueUrl=queue_url, MaxNumberOfMessages=10).get("Messages", [])
    for message in messages:
        sqs.change_message_visibility(
            QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    return [message["Body"] for message in messages]


def test_a_dropped_batch_reaches_the_queue_as_lambdas_on_failure_message(
    table: Table, aws: str, queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _pump_dropping_batch_1(table, aws, queue_url, capsys)

    (body,) = _bodies(table, queue_url)
    message = json.loads(body)
    info = message["DDBStreamBatchInfo"]
    assert message["requestContext"]["condition"] == "RetryAttemptsExhausted"
    assert info["batchSize"] == 5
    assert info["streamArn"] == table.stream_arn()
    assert int(info["startSequenceNumber"]) < int(info["endSequenceNumber"])
    assert {"approximateArrivalOfFirstRecord", "approximateArrivalOfLastRecord", "shardId"} <= set(
        info
    )
    assert "@example.com" not in body


def test_replay_applies_exactly_the_dropped_range_and_deletes_the_message(
    table: Table, aws: str, queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _pump_dropping_batch_1(table, aws, queue_url, capsys)
    assert table.stored(WORKSHOP) == ATTENDEES - 5

    code, summary, _ = _replay(table, queue_url, capsys)

    assert code == 0
    assert table.stored(WORKSHOP) == ATTENDEES
    assert (summary["messages"], summary["replayed"], summary["records_replayed"]) == (1, 1, 5)
    assert summary["handler"]["RecordsInsert"] == 5
    assert (summary["trimmed"], summary["failed"]) == (0, 0)
    assert _messages(table, queue_url) == 0


def test_replaying_the_same_message_twice_changes_nothing(
    table: Table, aws: str, queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _pump_dropping_batch_1(table, aws, queue_url, capsys)
    (body,) = _bodies(table, queue_url)
    assert _replay(table, queue_url, capsys)[0] == 0
    ledger = table.ledger("workshop")

    table.clients.sqs().send_message(QueueUrl=queue_url, MessageBody=body)
    code, summary, _ = _replay(table, queue_url, capsys)

    assert code == 0
    assert table.stored(WORKSHOP) == ATTENDEES
    assert table.ledger("workshop") == ledger
    assert summary["replayed"] == 1
    assert summary["duplicates"] == 5
    assert summary["applied"] == 0
    assert _messages(table, queue_url) == 0


def test_a_batch_partly_applied_before_it_was_dropped_is_completed_without_double_counting(
    table: Table, queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    real = lambda_function(table.handler())
    invocations: list[int] = []

    def applies_two_then_crashes_on_batch_1(event: dict[str, Any], context: Any) -> object:
        invocations.append(len(event["Records"]))
        if len(invocations) == 2:
            real({"Records": event["Records"][:2]}, context)
            raise RuntimeError("the function timed out after two records")
        return real(event, context)

    on_failure = SqsOnFailure(
        table.clients.sqs(),
        queue_url,
        stream_arn=table.stream_arn(),
        function_arn="arn:aws:lambda:us-east-1:000000000000:function:updateAttendeeCounter",
    )
    config = PumpConfig(batch_size=5, batching_window=0.0, max_retries=0, bisect_on_error=False)
    pump = StreamPump(
        table.clients.streams(),
        table.stream_arn(),
        applies_two_then_crashes_on_batch_1,
        region="us-east-1",
        config=config,
        on_failure=on_failure,
    )
    stats = pump.drain()
    assert stats.on_failure_messages == 1
    assert table.stored(WORKSHOP) == ATTENDEES - 3

    code, summary, _ = _replay(table, queue_url, capsys)

    assert code == 0
    assert table.stored(WORKSHOP) == ATTENDEES
    assert summary["records_replayed"] == 5
    assert summary["duplicates"] == 2
    assert _messages(table, queue_url) == 0


def test_a_dry_run_reads_and_reports_but_writes_and_deletes_nothing(
    table: Table, aws: str, queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _pump_dropping_batch_1(table, aws, queue_url, capsys)
    ledger = table.ledger("workshop")

    code, summary, _ = _replay(table, queue_url, capsys, "--dry-run")

    assert code == 0
    assert summary["dry_run"] is True
    assert (summary["messages"], summary["records_read"]) == (1, 5)
    assert (summary["replayed"], summary["records_replayed"]) == (0, 0)
    assert table.stored(WORKSHOP) == ATTENDEES - 5
    assert table.ledger("workshop") == ledger
    assert len(_bodies(table, queue_url)) == 1  # still there, and visible at once


def test_a_message_whose_range_left_the_stream_is_kept_and_reported(
    table: Table, aws: str, queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _pump_dropping_batch_1(table, aws, queue_url, capsys)
    (body,) = _bodies(table, queue_url)
    gone = json.loads(body)
    gone_arn = table.stream_arn().replace(table.name, "deleted-table")
    gone["DDBStreamBatchInfo"]["streamArn"] = gone_arn
    sqs = table.clients.sqs()
    sqs.purge_queue(QueueUrl=queue_url)
    sqs.send_message(QueueUrl=queue_url, MessageBody=json.dumps(gone))

    code, summary, output = _replay(table, queue_url, capsys)

    assert code == 1
    assert (summary["messages"], summary["trimmed"], summary["replayed"]) == (1, 1, 0)
    assert "replay_range_gone" in output
    assert table.stored(WORKSHOP) == ATTENDEES - 5
    assert _messages(table, queue_url) == 1


def test_a_malformed_message_is_kept_and_counted_as_failed(
    table: Table, queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    table.clients.sqs().send_message(QueueUrl=queue_url, MessageBody='{"Records": []}')

    code, summary, output = _replay(table, queue_url, capsys)

    assert code == 1
    assert (summary["messages"], summary["failed"]) == (1, 1)
    assert "replay_message_malformed" in output
    assert _messages(table, queue_url) == 1


def test_replay_output_carries_no_personal_data_even_at_debug_level(
    table: Table, aws: str, queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _pump_dropping_batch_1(table, aws, queue_url, capsys)

    code, _, output = _replay(table, queue_url, capsys, "--log-level", "debug")

    assert code == 0
    assert "replay_batch_replayed" in output
    assert "@example.com" not in output
    assert "Lovelace" not in output


def test_replay_without_a_queue_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["replay", "--once"], env={"TABLE_NAME": "t"}) == 2
    assert "--queue-url" in capsys.readouterr().err


def test_piped_replay_output_is_one_json_document(
    table: Table, aws: str, queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _pump_dropping_batch_1(table, aws, queue_url, capsys)

    code = main(["replay", "--queue-url", queue_url, "--once"], env=_env(table))

    assert code == 0
    assert json.loads(capsys.readouterr().out)["replayed"] == 1  # all of stdout, nothing else


def test_on_a_terminal_replay_ends_with_a_result_table(
    table: Table, aws: str, queue_url: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _pump_dropping_batch_1(table, aws, queue_url, capsys)

    with stdout_is_a_terminal():
        code = main(["replay", "--queue-url", queue_url, "--once"], env=_env(table))

    shown = ANSI.sub("", capsys.readouterr().out)
    assert code == 0
    assert re.search(r"messages: 1 replayed, 0 kept", shown)
    assert re.search(r"records\s*│\s*5\s*│\s*5 read", shown)
    assert shown.rstrip().endswith("done: 1 message replayed")
