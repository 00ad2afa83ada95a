"""The replay's pieces without a server: the on-failure message's contract, reading exactly a
range from a shard, and running records through a handler as Lambda would."""

from __future__ import annotations

import json
from typing import Any

import pytest
from botocore.exceptions import ClientError

from reconciler.handler.replay import (
    BatchRange,
    BatchReplayer,
    MalformedMessageError,
    RangeGoneError,
    ReplayFailedError,
    StreamRangeReader,
    on_failure_message,
    parse_on_failure,
)

ARN = "arn:aws:dynamodb:us-east-1:000000000000:table/t/stream/2026-01-01T00:00:00.000"


def record(sequence: int) -> dict[str, Any]:
    return {
        "eventID": str(sequence),
        "eventName": "INSERT",
        "dynamodb": {"SequenceNumber": str(sequence), "ApproximateCreationDateTime": 1700000000},
    }


def test_the_message_the_pump_writes_names_the_range_the_replay_reads() -> None:
    message = on_failure_message(
        [record(100), record(101), record(105)],
        shard_id="shardId-1",
        stream_arn=ARN,
        function_arn="arn:aws:lambda:us-east-1:000000000000:function:f",
        invoke_count=4,
        now=1700000001.5,
    )
    assert message["timestamp"] == "2023-11-14T22:13:21.500Z"
    assert message["DDBStreamBatchInfo"]["approximateArrivalOfFirstRecord"].startswith("2023-11-14")
    assert parse_on_failure(json.dumps(message)) == BatchRange(
        ARN, "shardId-1", "100", "105", 3, "RetryAttemptsExhausted"
    )


@pytest.mark.parametrize(
    "body",
    [
        "not json",
        "[]",
        '{"Records": []}',
        '{"DDBStreamBatchInfo": {"shardId": "s", "streamArn": "a"}}',
        '{"DDBStreamBatchInfo": {"shardId": "s", "streamArn": "a", '
        '"startSequenceNumber": "9", "endSequenceNumber": "1"}}',
        '{"DDBStreamBatchInfo": {"shardId": "s", "streamArn": "a", '
        '"startSequenceNumber": "x", "endSequenceNumber": "1"}}',
    ],
    ids=["not json", "a list", "an event", "no range", "start after end", "not a number"],
)
def test_anything_but_a_stream_on_failure_message_is_malformed(body: str) -> None:
    with pytest.raises(MalformedMessageError):
        parse_on_failure(body)


class FakeStreams:
    """A shard holding ``records``, served a page at a time; or one that raises ``error``."""

    def __init__(self, records: list[dict[str, Any]], page: int = 2, error: str = "") -> None:
        self.records = records
        self.page = page
        self.error = error
        self.reads = 0

    def get_shard_iterator(self, **kwargs: Any) -> dict[str, Any]:
        if self.error:
            raise ClientError({"Error": {"Code": self.error, "Message": ""}}, "GetShardIterator")
        assert kwargs["ShardIteratorType"] == "AT_SEQUENCE_NUMBER"
        start = int(kwargs["SequenceNumber"])
        first = next(i for i, r in enumerate(self.records) if int(r["eventID"]) >= start)
        return {"ShardIterator": str(first)}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:  # noqa: N803
        self.reads += 1
        first = int(ShardIterator)
        page = self.records[first : first + self.page]
        return {"Records": page, "NextShardIterator": str(first + len(page))}


def batch(start: int, end: int) -> BatchRange:
    return BatchRange(ARN, "shardId-1", str(start), str(end), end - start + 1, "x")


def sequences(records: list[dict[str, Any]]) -> list[str]:
    return [r["dynamodb"]["SequenceNumber"] for r in records]


def test_the_reader_returns_exactly_the_range_and_stops_at_its_end() -> None:
    streams = FakeStreams([record(n) for n in (100, 101, 102, 103, 104, 105, 106, 107)])
    read = StreamRangeReader(streams, "us-east-1").read(batch(101, 104))  # type: ignore[arg-type]
    assert sequences(read) == ["101", "102", "103", "104"]
    assert read[0]["eventSourceARN"] == ARN
    assert streams.reads == 2


@pytest.mark.parametrize("code", ["TrimmedDataAccessException", "ResourceNotFoundException"])
def test_a_range_that_left_the_stream_is_gone_not_failed(code: str) -> None:
    reader = StreamRangeReader(FakeStreams([], error=code), "us-east-1")  # type: ignore[arg-type]
    with pytest.raises(RangeGoneError):
        reader.read(batch(1, 2))


class Function:
    """A handler that answers from a script and records what it was given."""

    def __init__(self, *answers: object) -> None:
        self.answers = list(answers)
        self.calls: list[list[str]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> object:
        self.calls.append(sequences(event["Records"]))
        answer = self.answers.pop(0) if self.answers else None
        if isinstance(answer, Exception):
            raise answer
        return answer


def replayer(function: Function, batch_size: int = 10) -> BatchReplayer:
    return BatchReplayer(lambda _: [], function, batch_size=batch_size)


def test_the_replayer_uses_lambdas_batch_size_and_retries_from_a_reported_failure() -> None:
    failure = {"batchItemFailures": [{"itemIdentifier": "3"}]}
    function = Function(failure)
    replayer(function, batch_size=4).replay([record(n) for n in range(1, 7)])
    assert function.calls == [["1", "2", "3", "4"], ["3", "4"], ["5", "6"]]


def test_a_handler_that_keeps_refusing_fails_the_replay() -> None:
    failure = {"batchItemFailures": [{"itemIdentifier": "1"}]}
    with pytest.raises(ReplayFailedError):
        replayer(Function(failure, failure, failure)).replay([record(1)])


def test_a_handler_that_raises_fails_the_replay() -> None:
    with pytest.raises(ReplayFailedError):
        replayer(Function(RuntimeError("boom"))).replay([record(1)])
