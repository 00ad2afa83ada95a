"""The mapping loop: a local stand-in for Lambda's DynamoDB event source mapping.

Reads a table's stream through the ``dynamodbstreams`` API (shards, iterators, ``GetRecords``)
and invokes a handler the way Lambda does: Lambda-shaped events, batches of up to
``batch_size`` records per shard gathered for up to ``batching_window`` seconds, parent shards
before their children, partial batch responses honoured by retrying from the reported record,
whole-batch retries (split in halves when bisecting) when the handler raises, and the rest of a
batch dropped (and told to the on-failure sink, Lambda's destination) once the retries are
spent. Faults can be injected deterministically (deliver a batch twice, drop it, delay it) so
tests and the demo can show what at-least-once delivery does to the counters. Lambda's shapes
live in ``reconciler.handler.lambda_shape``, the faults in ``faults``, concurrent lanes of one
shard in ``lanes``; this module is the polling, batching and retrying.

It exists for local endpoints (moto); in AWS the real mapping does this job.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from reconciler.devtools.pump.faults import FaultPlan
from reconciler.devtools.pump.lanes import Baton, LanePlan, run_lanes
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
from reconciler.kernel.logs import get_logger

if TYPE_CHECKING:
    import structlog
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient

STARTING_POSITIONS = ("TRIM_HORIZON", "LATEST")

DroppedBatchSink = Callable[[list[dict[str, Any]], str, int], None]
"""Told of every batch the mapping gives up on: ``(records, shard_id, invocations)``; Lambda's
on-failure destination."""


class StreamUnavailableError(ReconcilerError):
    """The table has no stream (or it is disabled): there is nothing to pump."""


@dataclass(frozen=True, slots=True)
class PumpConfig:
    """The event source mapping's settings; defaults are the deployed ones."""

    batch_size: int = spec.BATCH_SIZE
    batching_window: float = spec.BATCHING_WINDOW_SECONDS
    max_retries: int = spec.MAX_RETRY_ATTEMPTS
    bisect_on_error: bool = spec.BISECT_BATCH_ON_ERROR
    starting_position: str = spec.STARTING_POSITION
    poll_interval: float = 1.0
    """Follow mode: pause between polls when the stream is idle."""
    read_limit: int = 1000
    function_name: str = spec.HANDLER_FUNCTION_NAME
    parallelization_factor: int = 1
    """Concurrent batches per shard (Lambda allows 1 to 10); order is then kept per item."""
    split_hot_key: str | None = None
    """A partition key value spread over two concurrently processed shards (a split for heat)."""
    reopen_iterators: bool = False
    """Open an iterator after the last record read at every poll, instead of following
    ``NextShardIterator``. For moto: its iterators hold the shard object, which a cancelled
    ``TransactWriteItems`` replaces (moto restores a copy of the table), so an iterator
    followed across one never sees another record."""

    def __post_init__(self) -> None:
        if not 1 <= self.parallelization_factor <= 10:
            raise ValueError("parallelization_factor must be between 1 and 10")
        if not 1 <= self.batch_size <= 10000:
            raise ValueError("batch_size must be between 1 and 10000")
        if self.batching_window < 0 or self.poll_interval < 0:
            raise ValueError("batching_window and poll_interval must not be negative")
        if self.max_retries < 0:
            raise ValueError("max_retries must not be negative")
        if self.starting_position not in STARTING_POSITIONS:
            raise ValueError(f"starting_position must be one of {STARTING_POSITIONS}")
        if not 1 <= self.read_limit <= 1000:
            raise ValueError("read_limit must be between 1 and 1000")


@dataclass(slots=True)
class PumpStats:
    records_read: int = 0
    batches: int = 0
    """Fresh batches formed from the stream (each numbered for the fault plan)."""
    invocations: int = 0
    records_delivered: int = 0
    """Records handed to the handler, counting every retry and duplicate."""
    retries: int = 0
    partial_failures: int = 0
    handler_errors: int = 0
    duplicated_batches: int = 0
    injected_drops: int = 0
    records_dropped_injected: int = 0
    batches_dropped_after_retries: int = 0
    records_dropped_after_retries: int = 0
    on_failure_messages: int = 0
    """Dropped batches reported to the on-failure destination."""

    def to_dict(self) -> dict[str, int]:
        return asdict(self)


def stream_arn_for(dynamodb: DynamoDBClient, table_name: str) -> str:
    with aws_call("DescribeTable"):
        table = dynamodb.describe_table(TableName=table_name)["Table"]
    enabled = table.get("StreamSpecification", {}).get("StreamEnabled", False)
    arn = table.get("LatestStreamArn")
    if not arn or not enabled:
        raise StreamUnavailableError(f"table {table_name} has no enabled stream")
    return arn


@dataclass(slots=True)
class _Shard:
    shard_id: str
    parent_id: str | None
    initial: bool = False
    """Present when the pump started: the only shards a LATEST starting position applies to."""
    iterator: str | None = None
    last_read: str | None = None
    closed: bool = False
    """GetRecords returned no next iterator: the shard will never grow again."""
    buffer: list[dict[str, Any]] = field(default_factory=list)
    window_start: float = 0.0

    @property
    def finished(self) -> bool:
        return self.closed and not self.buffer


class StreamPump:
    """Lambda's polling loop over one stream, with the handler injected."""

    def __init__(
        self,
        streams: DynamoDBStreamsClient,
        stream_arn: str,
        handler: Handler,
        *,
        region: str,
        config: PumpConfig | None = None,
        faults: FaultPlan | None = None,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        logger: structlog.stdlib.BoundLogger | None = None,
        on_failure: DroppedBatchSink | None = None,
    ) -> None:
        self._streams = streams
        self._arn = stream_arn
        self._handler = handler
        self._region = region
        self._config = config or PumpConfig()
        self._faults = faults or FaultPlan()
        self._clock = clock
        self._sleep = sleep
        self._log = logger or get_logger(__name__)
        self._on_failure = on_failure
        self._shards: dict[str, _Shard] = {}
        self._first_refresh = True
        self._batch_index = 0
        self._lanes = LanePlan(self._config.parallelization_factor, self._config.split_hot_key)
        self._baton = Baton()
        self._hash_key: str | None = None
        self.stats = PumpStats()

    # -- public loops --

    def drain(self) -> PumpStats:
        """Deliver everything the stream holds now, then return (local endpoints only)."""
        while True:
            if self.step():
                continue
            wait = self._next_window_due()
            if wait is None:
                self._log.info("pump_drained", **self.stats.to_dict())
                return self.stats
            self._sleep(wait)

    def follow(self, stop: Callable[[], bool]) -> PumpStats:
        """Poll until ``stop()`` says so; what the CLI's ``--follow`` runs."""
        while not stop():
            if self.step():
                continue
            wait = self._next_window_due()
            self._sleep(self._config.poll_interval if wait is None else min(wait, 1.0))
        self._log.info("pump_stopped", **self.stats.to_dict())
        return self.stats

    def step(self) -> bool:
        """One round over the shards; True when anything moved (read, closed or delivered)."""
        progressed = self._refresh_shards()
        for shard in self._ready_shards():
            progressed |= self._poll(shard)
            progressed |= self._flush(shard)
        return progressed

    # -- shards --

    def _refresh_shards(self) -> bool:
        found = False
        start: str | None = None
        while True:
            kwargs: dict[str, Any] = {"StreamArn": self._arn}
            if start:
                kwargs["ExclusiveStartShardId"] = start
            with aws_call("DescribeStream"):
                description = self._streams.describe_stream(**kwargs)["StreamDescription"]
            for key in description.get("KeySchema", []):
                if key.get("KeyType") == "HASH":
                    self._hash_key = key.get("AttributeName")
            for shard in description.get("Shards", []):
                shard_id = shard["ShardId"]
                if shard_id not in self._shards:
                    self._shards[shard_id] = _Shard(
                        shard_id, shard.get("ParentShardId"), initial=self._first_refresh
                    )
                    found = True
            start = description.get("LastEvaluatedShardId")
            if not start:
                break
        self._first_refresh = False
        return found

    def _ready_shards(self) -> list[_Shard]:
        """Shards whose parent is fully delivered (or gone): Lambda keeps a key's order."""
        ready = []
        for shard in self._shards.values():
            parent = self._shards.get(shard.parent_id or "")
            if not shard.finished and (parent is None or parent.finished):
                ready.append(shard)
        return ready

    def _iterator(self, shard: _Shard) -> str | None:
        kwargs: dict[str, Any] = {"StreamArn": self._arn, "ShardId": shard.shard_id}
        if shard.last_read is not None:
            kwargs.update(ShardIteratorType="AFTER_SEQUENCE_NUMBER", SequenceNumber=shard.last_read)
        elif shard.initial and self._config.starting_position == "LATEST":
            kwargs["ShardIteratorType"] = "LATEST"
        else:
            kwargs["ShardIteratorType"] = "TRIM_HORIZON"
        with aws_call("GetShardIterator"):
            return self._streams.get_shard_iterator(**kwargs).get("ShardIterator")

    def _poll(self, shard: _Shard) -> bool:
        if shard.closed:
            return False
        if self._config.reopen_iterators and shard.last_read is not None:
            shard.iterator = None
        if shard.iterator is None:
            shard.iterator = self._iterator(shard)
            if shard.iterator is None:
                shard.closed = True
                return True
        try:
            with aws_call("GetRecords"):
                response = self._streams.get_records(
                    ShardIterator=shard.iterator, Limit=self._config.read_limit
                )
        except AwsError as error:
            if error.code != "ExpiredIteratorException":
                raise
            shard.iterator = None  # resume after the last record read, next round
            self._log.info("pump_iterator_expired", shard=shard.shard_id)
            return True
        records = response.get("Records", [])
        if records and not shard.buffer:
            shard.window_start = self._clock()
        for record in records:
            shard.buffer.append(lambda_record(record, self._arn, self._region))
        if records:
            shard.last_read = sequence_number(shard.buffer[-1])
            self.stats.records_read += len(records)
        shard.iterator = response.get("NextShardIterator")
        if shard.iterator is None:
            shard.closed = True
            return True
        return bool(records)

    # -- batches --

    def _next_window_due(self) -> float | None:
        """Seconds until the earliest buffered batch is due; None when nothing is buffered."""
        waits = [
            max(0.0, shard.window_start + self._config.batching_window - self._clock())
            for shard in self._shards.values()
            if shard.buffer
        ]
        return min(waits) if waits else None

    def _flush(self, shard: _Shard) -> bool:
        size = self._config.batch_size
        if self._lanes.concurrent:
            due = self._clock() - shard.window_start >= self._config.batching_window
            if not shard.buffer or not (len(shard.buffer) >= size or shard.closed or due):
                return False
            records, shard.buffer = shard.buffer, []
            lanes = self._lanes.lanes(records, self._hash_key)
            run_lanes(lanes, size, lambda batch: self._deliver(batch, shard.shard_id), self._baton)
            return True
        delivered = False
        while len(shard.buffer) >= size:
            batch, shard.buffer = shard.buffer[:size], shard.buffer[size:]
            self._deliver(batch, shard.shard_id)
            delivered = True
        due = self._clock() - shard.window_start >= self._config.batching_window
        if shard.buffer and (shard.closed or due):
            batch, shard.buffer = shard.buffer, []
            self._deliver(batch, shard.shard_id)
            delivered = True
        return delivered

    def _deliver(self, batch: list[dict[str, Any]], shard_id: str) -> None:
        index = self._batch_index
        self._batch_index += 1
        self.stats.batches += 1
        faults = self._faults.faults_for(index)
        if faults.drop:
            self.stats.injected_drops += 1
            self.stats.records_dropped_injected += len(batch)
            self._log.warning("pump_batch_dropped_injected", batch=index, records=len(batch))
            self._dropped(batch, shard_id, 0)
            return
        if faults.delay:
            self._log.info("pump_batch_delayed_injected", batch=index, seconds=faults.delay)
            self._sleep(faults.delay)
        self._run(batch, index, shard_id, self._config.max_retries)
        if faults.duplicate:
            # The checkpoint "was lost": Lambda delivers the same batch again.
            self.stats.duplicated_batches += 1
            self._log.info("pump_batch_duplicated_injected", batch=index, records=len(batch))
            self._invoke(batch)

    def _run(
        self, batch: list[dict[str, Any]], index: int, shard_id: str, retries_left: int
    ) -> None:
        """Invoke until the batch succeeds or the retries are spent, as Lambda does."""
        pending = batch
        while True:
            outcome = self._invoke(pending)
            if outcome is None:
                return
            start, raised = outcome
            if retries_left == 0:
                dropped = pending[start:]
                self.stats.batches_dropped_after_retries += 1
                self.stats.records_dropped_after_retries += len(dropped)
                self._log.error(
                    "pump_batch_dropped_after_retries",
                    batch=index,
                    records=len(dropped),
                    first_sequence_number=sequence_number(dropped[0]),
                    retries=self._config.max_retries,
                )
                self._dropped(dropped, shard_id, self._config.max_retries + 1)
                return
            retries_left -= 1
            self.stats.retries += 1
            if raised and self._config.bisect_on_error and len(pending) > 1:
                middle = len(pending) // 2
                self._run(pending[:middle], index, shard_id, retries_left)
                self._run(pending[middle:], index, shard_id, retries_left)
                return
            pending = pending[start:]

    def _dropped(self, records: list[dict[str, Any]], shard_id: str, invocations: int) -> None:
        if self._on_failure is not None:
            self._on_failure(records, shard_id, invocations)
            self.stats.on_failure_messages += 1

    def _invoke(self, records: list[dict[str, Any]]) -> tuple[int, bool] | None:
        """One invocation; None on success, else (index to resume from, handler raised)."""
        event = lambda_event(records)
        context = lambda_context(self._config.function_name, self._region)
        self.stats.invocations += 1
        self.stats.records_delivered += len(records)
        try:
            with self._baton.released():
                response = self._handler(event, context)
        except Exception as exc:  # noqa: BLE001 - Lambda turns any exception into a retry
            self.stats.handler_errors += 1
            self._log.warning("pump_handler_failed", error=type(exc).__name__)
            return 0, True
        index = retry_index(response, [sequence_number(record) for record in records])
        if index is None:
            return None
        self.stats.partial_failures += 1
        return index, False
