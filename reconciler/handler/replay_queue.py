"""The on-failure queue's consumer: receive, replay, delete only after success.

A message is deleted only when its whole range went through the handler. A range that left
the stream, a malformed message or a refused replay is logged, counted and left on the queue
for an operator (or for the queue's own redrive policy to move to a dead-letter queue): a
dropped batch is never forgotten silently. ``dry_run`` reads and reports, writes nothing and
hands each message straight back to the queue.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any

from reconciler.handler.batch import MetricsSink
from reconciler.handler.emf import MetricTotals
from reconciler.handler.entry import HandlerSettings, build_handler, lambda_function
from reconciler.handler.replay import (
    BatchReplayer,
    MalformedMessageError,
    RangeGoneError,
    StreamRangeReader,
    parse_on_failure,
)
from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.aws import Clients, aws_call
from reconciler.kernel.errors import ReconcilerError
from reconciler.kernel.logs import get_logger

if TYPE_CHECKING:
    import structlog
    from mypy_boto3_sqs import SQSClient


@dataclass(slots=True)
class ReplaySummary:
    messages: int = 0
    replayed: int = 0
    """Messages whose whole range went through the handler (and were deleted)."""
    records_read: int = 0
    records_replayed: int = 0
    trimmed: int = 0
    """Messages whose records left the stream: kept on the queue."""
    failed: int = 0
    """Malformed messages and refused replays: kept on the queue."""
    dry_run: bool = False

    def to_dict(self, totals: MetricTotals | None = None) -> dict[str, Any]:
        summary = asdict(self)
        if totals is not None:
            summary["handler"] = dict(totals.totals)
            summary["applied"] = totals.get(spec.METRIC_COUNTER_UPDATES)
            summary["duplicates"] = totals.get(spec.METRIC_DUPLICATES_SKIPPED)
        return summary


def handler_replayer(
    settings: HandlerSettings, clients: Clients, metrics: MetricsSink
) -> BatchReplayer:
    """A replayer whose records go through the deployed handler's code, read from the stream
    on ``clients``' endpoint; ``replay``, ``serve`` and the demo all replay through this."""
    return BatchReplayer(
        StreamRangeReader(clients.streams(), clients.region).read,
        lambda_function(build_handler(settings, clients, metrics)),
        function_name=settings.function_name,
        region=clients.region,
    )


class ReplayJob:
    """Drains (or follows) one SQS queue of on-failure messages through a :class:`BatchReplayer`."""

    def __init__(
        self,
        sqs: SQSClient,
        queue_url: str,
        replayer: BatchReplayer,
        *,
        dry_run: bool = False,
        wait_seconds: int = 20,
        logger: structlog.stdlib.BoundLogger | None = None,
        on_handled: Callable[[ReplaySummary], None] | None = None,
    ) -> None:
        """``on_handled`` hears the summary after each message (a progress display)."""
        self._on_handled = on_handled
        self._sqs = sqs
        self._queue_url = queue_url
        self._replayer = replayer
        self._dry_run = dry_run
        self._wait_seconds = wait_seconds
        self._log = logger or get_logger(__name__)
        self.summary = ReplaySummary(dry_run=dry_run)

    def drain(self) -> ReplaySummary:
        """Every message on the queue now, each once; a kept message that becomes visible
        again within the run is not counted twice."""
        seen: set[str] = set()
        while True:
            received = self._receive(wait=1)
            fresh = [m for m in received if m["MessageId"] not in seen]
            for message in received:
                if message["MessageId"] in seen:
                    self._keep(message)
            if not fresh:
                return self.summary
            for message in fresh:
                seen.add(message["MessageId"])
                self.handle(message)

    def follow(self, stop: Callable[[], bool]) -> ReplaySummary:
        """Long-poll until ``stop()`` says so."""
        while not stop():
            for message in self._receive(wait=self._wait_seconds):
                self.handle(message)
        return self.summary

    def handle(self, message: dict[str, Any]) -> None:
        self._handle(message)
        if self._on_handled is not None:
            self._on_handled(self.summary)

    def _handle(self, message: dict[str, Any]) -> None:
        self.summary.messages += 1
        message_id = message["MessageId"]
        try:
            batch = parse_on_failure(message.get("Body", ""))
        except MalformedMessageError:
            self.summary.failed += 1
            self._log.error("replay_message_malformed", message_id=message_id)
            self._keep(message)
            return
        where = {
            "message_id": message_id,
            "shard_id": batch.shard_id,
            "start_sequence_number": batch.start,
            "end_sequence_number": batch.end,
            "condition": batch.condition,
        }
        try:
            records = self._replayer.read(batch)
            if not self._dry_run:
                self._replayer.replay(records)
        except RangeGoneError as exc:
            self.summary.trimmed += 1
            self._log.error("replay_range_gone", reason=str(exc), **where)
            self._keep(message)
            return
        except ReconcilerError as exc:  # a refused replay, an AWS failure mid-range
            self.summary.failed += 1
            self._log.error("replay_failed", error=type(exc).__name__, **where)
            self._keep(message)
            return
        self.summary.records_read += len(records)
        if self._dry_run:
            self._log.info("replay_dry_run", records=len(records), **where)
            self._keep(message)
            return
        with aws_call("DeleteMessage"):
            self._sqs.delete_message(
                QueueUrl=self._queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
        self.summary.replayed += 1
        self.summary.records_replayed += len(records)
        self._log.info("replay_batch_replayed", records=len(records), **where)

    def _receive(self, wait: int) -> list[dict[str, Any]]:
        with aws_call("ReceiveMessage"):
            response = self._sqs.receive_message(
                QueueUrl=self._queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=wait
            )
        return list(response.get("Messages", []))  # type: ignore[arg-type]

    def _keep(self, message: dict[str, Any]) -> None:
        """Left on the queue. A dry run hands it straight back, so it delays no real replay;
        otherwise it reappears after the queue's visibility timeout."""
        if not self._dry_run:
            return
        with aws_call("ChangeMessageVisibility"):
            self._sqs.change_message_visibility(
                QueueUrl=self._queue_url,
                ReceiptHandle=message["ReceiptHandle"],
                VisibilityTimeout=0,
            )
