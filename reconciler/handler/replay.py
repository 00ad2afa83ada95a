"""Exact replay of a batch Lambda gave up on, from its on-failure message.

When the event source mapping spends a batch's retries it sends an on-failure message naming
the batch's shard and sequence range, not its records. The records are still in the stream for
24 hours, so a replay reads exactly that range again and runs it through the handler the
deployed function runs. That is safe whatever already happened to the range: the handler's
ledger skips every record it has applied, so a batch that was partly applied before it was
dropped is completed, and a message replayed twice changes nothing.

This module is the message's contract (:func:`on_failure_message` writes it, the local pump
sends it; :func:`parse_on_failure` reads it) and one message's replay (:class:`BatchReplayer`).
The queue around it lives in ``replay_queue``.
"""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from reconciler.handler.lambda_shape import (
    Handler,
    lambda_context,
    lambda_event,
    lambda_record,
    retry_index,
    sequence_number,
)
from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.aws import aws_call
from reconciler.kernel.errors import AwsError, ReconcilerError

if TYPE_CHECKING:
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient

ON_FAILURE_VERSION = "1.0"
RETRIES_EXHAUSTED = "RetryAttemptsExhausted"

_GONE_CODES = frozenset({"TrimmedDataAccessException", "ResourceNotFoundException"})
"""The range left the stream: trimmed after 24 hours, or the shard or stream no longer exists."""


class MalformedMessageError(ReconcilerError):
    """A queue message that is not Lambda's on-failure message for a DynamoDB stream."""


class RangeGoneError(ReconcilerError):
    """The batch's records are no longer readable from the stream; only per-key repair is left."""


class ReplayFailedError(ReconcilerError):
    """The handler did not accept the replayed records; the message stays for another try."""


@dataclass(frozen=True, slots=True)
class BatchRange:
    """What an on-failure message says about the batch: where its records are, not what."""

    stream_arn: str
    shard_id: str
    start: str
    end: str
    batch_size: int
    condition: str


def _iso(epoch: float) -> str:
    moment = dt.datetime.fromtimestamp(epoch, tz=dt.UTC)
    return moment.isoformat(timespec="milliseconds").replace("+00:00", "Z")


def _arrival(record: Mapping[str, Any]) -> str:
    created = record["dynamodb"].get("ApproximateCreationDateTime")
    return _iso(float(created)) if isinstance(created, int | float) else _iso(0)


def on_failure_message(
    records: Sequence[Mapping[str, Any]],
    *,
    shard_id: str,
    stream_arn: str,
    function_arn: str,
    invoke_count: int,
    now: float,
) -> dict[str, Any]:
    """Lambda's on-failure record for a dropped batch of Lambda-shaped ``records``: the range
    and timing only (the records themselves hold personal data and are never in it)."""
    return {
        "requestContext": {
            "requestId": None,
            "functionArn": function_arn,
            "condition": RETRIES_EXHAUSTED,
            "approximateInvokeCount": invoke_count,
        },
        "responseContext": {
            "statusCode": 200,
            "executedVersion": "$LATEST",
            "functionError": "Unhandled",
        },
        "version": ON_FAILURE_VERSION,
        "timestamp": _iso(now),
        "DDBStreamBatchInfo": {
            "shardId": shard_id,
            "startSequenceNumber": sequence_number(records[0]),
            "endSequenceNumber": sequence_number(records[-1]),
            "approximateArrivalOfFirstRecord": _arrival(records[0]),
            "approximateArrivalOfLastRecord": _arrival(records[-1]),
            "batchSize": len(records),
            "streamArn": stream_arn,
        },
    }


def parse_on_failure(body: str) -> BatchRange:
    """The range a message names; anything else is malformed (and never guessed at)."""
    try:
        message = json.loads(body)
        info = message["DDBStreamBatchInfo"]
        batch = BatchRange(
            stream_arn=str(info["streamArn"]),
            shard_id=str(info["shardId"]),
            start=str(info["startSequenceNumber"]),
            end=str(info["endSequenceNumber"]),
            batch_size=int(info.get("batchSize", 0)),
            condition=str(message.get("requestContext", {}).get("condition", "unknown")),
        )
        if int(batch.start) > int(batch.end):
            raise ValueError("start after end")
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise MalformedMessageError(f"not a DynamoDB stream on-failure message: {exc}") from None
    return batch


class StreamRangeReader:
    """Reads one shard's records from a start to an end sequence number, both included."""

    def __init__(
        self, streams: DynamoDBStreamsClient, region: str, *, max_empty_reads: int = 3
    ) -> None:
        self._streams = streams
        self._region = region
        self._max_empty_reads = max_empty_reads

    def read(self, batch: BatchRange) -> list[dict[str, Any]]:
        iterator = self._iterator(batch)
        end = int(batch.end)
        records: list[dict[str, Any]] = []
        empty_reads = 0
        while iterator is not None:
            response = self._get_records(iterator)
            page = response.get("Records", [])
            iterator = response.get("NextShardIterator")
            empty_reads = 0 if page else empty_reads + 1
            for raw in page:
                record = lambda_record(raw, batch.stream_arn, self._region)
                if int(sequence_number(record)) > end:
                    return records
                records.append(record)
            if records and int(sequence_number(records[-1])) == end:
                return records
            if empty_reads >= self._max_empty_reads:
                break
        if not records:
            raise RangeGoneError(f"no record of the range is left on shard {batch.shard_id}")
        return records  # an open shard ended before ``end``: replay what it holds

    def _iterator(self, batch: BatchRange) -> str | None:
        try:
            with aws_call("GetShardIterator"):
                response = self._streams.get_shard_iterator(
                    StreamArn=batch.stream_arn,
                    ShardId=batch.shard_id,
                    ShardIteratorType="AT_SEQUENCE_NUMBER",
                    SequenceNumber=batch.start,
                )
        except AwsError as error:
            if error.code in _GONE_CODES:
                raise RangeGoneError(f"range left the stream ({error.code})") from error
            raise
        return response.get("ShardIterator")

    def _get_records(self, iterator: str) -> Any:
        try:
            with aws_call("GetRecords"):
                return self._streams.get_records(ShardIterator=iterator, Limit=1000)
        except AwsError as error:
            if error.code in _GONE_CODES:
                raise RangeGoneError(f"range left the stream ({error.code})") from error
            raise


class BatchReplayer:
    """Runs a range's records through the handler in Lambda's batch sizes, honouring partial
    batch responses; raises :class:`ReplayFailedError` if the handler still refuses them."""

    def __init__(
        self,
        read: Callable[[BatchRange], list[dict[str, Any]]],
        function: Handler,
        *,
        function_name: str = spec.HANDLER_FUNCTION_NAME,
        region: str = "us-east-1",
        batch_size: int = spec.BATCH_SIZE,
        attempts: int = 3,
    ) -> None:
        self._read = read
        self._function = function
        self._function_name = function_name
        self._region = region
        self._batch_size = batch_size
        self._attempts = attempts

    def read(self, batch: BatchRange) -> list[dict[str, Any]]:
        return self._read(batch)

    def replay(self, records: Sequence[dict[str, Any]]) -> None:
        for first in range(0, len(records), self._batch_size):
            self._invoke(list(records[first : first + self._batch_size]))

    def _invoke(self, pending: list[dict[str, Any]]) -> None:
        for _ in range(self._attempts):
            context = lambda_context(self._function_name, self._region)
            try:
                response = self._function(lambda_event(pending), context)
            except Exception as exc:
                raise ReplayFailedError(f"handler failed: {type(exc).__name__}") from exc
            index = retry_index(response, [sequence_number(record) for record in pending])
            if index is None:
                return
            pending = pending[index:]
        raise ReplayFailedError(f"handler refused {len(pending)} records {self._attempts} times")
