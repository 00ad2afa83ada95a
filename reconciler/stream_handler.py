"""``updateAttendeeCounter``: keeps each event's ``attendeeCount`` in step with the stream.

:func:`handler` is the Lambda entry point (the CDK app points at it; keep the path stable). It
is the composition root: it reads the Lambda environment once, builds the adapters and caches
them for warm invocations. The logic lives in :class:`StreamHandler`, which takes its ports
injected so tests run it against fakes or a moto server.

Per batch: parse every record (bad ones are skipped and counted, never fatal), sum the
attendee deltas per event, and apply each event's sum with one conditional ``UpdateItem``
guarded by the highest sequence number already applied, so Lambda's retries and replays never
count a record twice. Failures are reported per Lambda's partial-batch contract.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass, fields
from typing import Any, Protocol, TextIO

import structlog

from reconciler import deployment_spec as spec
from reconciler.aws import Clients, client_config
from reconciler.counter_store import CounterState, CounterStore, DynamoCounterStore
from reconciler.emf import EmfWriter
from reconciler.errors import ConflictError, ReconcilerError
from reconciler.event_lookup import DynamoEventLocator, EventLocator, LookupOutcome
from reconciler.logs import configure_logging, get_logger
from reconciler.model import EventKey, TableModel
from reconciler.settings import (
    LogSettings,
    Source,
    TableSettings,
    parse_log_settings,
    parse_table_settings,
)
from reconciler.stream_records import (
    AttendeeChange,
    ChangeKind,
    Ignored,
    Malformed,
    MalformedReason,
    SlugBatch,
    apply_delta,
    earliest,
    group_by_slug,
    parse_event,
    parse_record,
)

BatchResponse = dict[str, list[dict[str, str]]]

DEFAULT_CONFLICT_RETRIES = 5


class BatchFailedError(ReconcilerError):
    """No event of the batch could be updated: Lambda must retry the whole batch."""


class MetricsSink(Protocol):
    def write(self, values: Mapping[str, int | float]) -> None: ...


@dataclass(slots=True)
class BatchCounts:
    """The tally of one invocation; field order is the EMF line's metric order."""

    records_insert: int = 0
    records_remove: int = 0
    records_modify: int = 0
    records_ignored: int = 0
    counter_updates: int = 0
    duplicates_skipped: int = 0
    orphan_records: int = 0
    ambiguous_records: int = 0
    malformed_records: int = 0
    clamped_at_zero: int = 0
    partial_batch_failures: int = 0

    def metrics(self) -> dict[str, int]:
        return {_METRIC_NAMES[f.name]: getattr(self, f.name) for f in fields(self)}

    def count_kind(self, kind: ChangeKind) -> None:
        if kind is ChangeKind.INSERT:
            self.records_insert += 1
        elif kind is ChangeKind.REMOVE:
            self.records_remove += 1
        else:
            self.records_modify += 1


_METRIC_NAMES = {
    "records_insert": spec.METRIC_RECORDS_INSERT,
    "records_remove": spec.METRIC_RECORDS_REMOVE,
    "records_modify": spec.METRIC_RECORDS_MODIFY,
    "records_ignored": spec.METRIC_RECORDS_IGNORED,
    "counter_updates": spec.METRIC_COUNTER_UPDATES,
    "duplicates_skipped": spec.METRIC_DUPLICATES_SKIPPED,
    "orphan_records": spec.METRIC_ORPHAN_RECORDS,
    "ambiguous_records": spec.METRIC_AMBIGUOUS_RECORDS,
    "malformed_records": spec.METRIC_MALFORMED_RECORDS,
    "clamped_at_zero": spec.METRIC_CLAMPED_AT_ZERO,
    "partial_batch_failures": spec.METRIC_PARTIAL_BATCH_FAILURES,
}


class StreamHandler:
    """Applies one Lambda batch of stream records to the event counters.

    Logs carry event slugs, sequence numbers and fixed reason codes only: attendee keys are
    email addresses and attendee images are personal data, so neither is ever logged.
    """

    def __init__(
        self,
        locator: EventLocator,
        store: CounterStore,
        metrics: MetricsSink,
        model: TableModel,
        *,
        conflict_retries: int = DEFAULT_CONFLICT_RETRIES,
        logger: structlog.stdlib.BoundLogger | None = None,
    ) -> None:
        if conflict_retries < 1:
            raise ValueError("conflict_retries must be at least 1")
        self._locator = locator
        self._store = store
        self._metrics = metrics
        self._model = model
        self._conflict_retries = conflict_retries
        self._log = logger or get_logger(__name__)

    def handle(self, event: object, request_id: str | None = None) -> BatchResponse:
        counts = BatchCounts()
        context = (
            structlog.contextvars.bound_contextvars(request_id=request_id)
            if request_id
            else nullcontext()
        )
        with context:
            try:
                return self._handle(event, counts)
            finally:
                # Also on the way out of a raise: Lambda's retry of this batch shows in metrics.
                self._metrics.write(counts.metrics())

    def _handle(self, event: object, counts: BatchCounts) -> BatchResponse:
        records = parse_event(event)
        if isinstance(records, Malformed):
            counts.malformed_records += 1
            self._log.error("stream_event_malformed", reason=records.reason.value)
            return {"batchItemFailures": []}

        changes: list[AttendeeChange] = []
        for index, record in enumerate(records):
            parsed = parse_record(record, self._model)
            if isinstance(parsed, AttendeeChange):
                counts.count_kind(parsed.kind)
                changes.append(parsed)
            elif isinstance(parsed, Ignored):
                counts.records_ignored += 1
            else:
                counts.malformed_records += 1
                self._log.warning(
                    "stream_record_malformed",
                    reason=parsed.reason.value,
                    record_index=index,
                    sequence_number=parsed.sequence_number,
                )

        grouped = group_by_slug(changes)
        counts.duplicates_skipped += grouped.repeated
        attempted = 0
        failed: list[SlugBatch] = []
        for batch in grouped.batches:
            if not batch.needs_write:
                continue
            attempted += 1
            try:
                self._apply(batch, counts)
            except ReconcilerError as exc:
                failed.append(batch)
                self._log.error(
                    "counter_update_failed",
                    slug=batch.slug,
                    records=len(batch.changes),
                    first_sequence_number=batch.first_sequence_number,
                    error=type(exc).__name__,
                )

        if not failed:
            return {"batchItemFailures": []}
        if len(failed) == attempted:
            self._log.error("batch_failed", events=len(failed))
            raise BatchFailedError(f"no event of the batch could be updated ({len(failed)})")
        counts.partial_batch_failures += 1
        first_failed = earliest([batch.first_sequence_number for batch in failed])
        self._log.warning(
            "batch_partially_failed", failed_events=len(failed), item_identifier=first_failed
        )
        return {"batchItemFailures": [{"itemIdentifier": first_failed}]}

    def _apply(self, batch: SlugBatch, counts: BatchCounts) -> None:
        """Apply one event's changes exactly once; raises ReconcilerError when it could not."""
        records = len(batch.changes)
        lookup = self._locator.find(batch.slug)
        if lookup.outcome is LookupOutcome.AMBIGUOUS:
            counts.ambiguous_records += records
            self._log.warning(
                "event_ambiguous",
                slug=batch.slug,
                records=records,
                candidates=len(lookup.candidates),
            )
            return
        key = lookup.key
        if key is None:
            counts.orphan_records += records
            self._log.warning("event_orphaned", slug=batch.slug, records=records)
            return

        result = self._store.add_if_newer(
            key, batch.delta, batch.first_sequence, batch.last_sequence
        )
        if result.applied:
            counts.counter_updates += 1
            self._log.debug("counter_updated", slug=batch.slug, delta=batch.delta)
            return
        self._catch_up(key, batch, result.current, counts)

    def _catch_up(
        self, key: EventKey, batch: SlugBatch, state: CounterState | None, counts: BatchCounts
    ) -> None:
        """The slow path: apply only the records after the stored sequence, clamped at zero.

        Reached on a replay, a decrement below zero, a non-numeric count, or a vanished
        event. The write is a compare-and-set on what was read; the reconciler may write in
        between, so a lost race re-reads and decides again, a bounded number of times.
        """
        records = len(batch.changes)
        for _attempt in range(self._conflict_retries):
            if state is None:
                counts.orphan_records += records
                self._log.warning(
                    "event_orphaned", slug=batch.slug, records=records, reason="event_deleted"
                )
                return
            if not (state.count_is_number and state.version_is_number):
                counts.malformed_records += records
                self._log.warning(
                    "stream_record_malformed",
                    reason=MalformedReason.NON_NUMERIC_COUNTER.value,
                    slug=batch.slug,
                    records=records,
                )
                return
            remaining = batch.after(state.sequence)
            if remaining is None:
                counts.duplicates_skipped += records
                self._log.info("duplicate_records_skipped", slug=batch.slug, records=records)
                return
            outcome = apply_delta(state.count, remaining.delta)
            try:
                self._store.write_if_unchanged(key, state, outcome.count, remaining.last_sequence)
            except ConflictError:
                self._log.info("counter_write_conflict", slug=batch.slug)
                state = self._store.read(key)
                continue
            counts.counter_updates += 1
            skipped = records - len(remaining.changes)
            if skipped:
                counts.duplicates_skipped += skipped
                self._log.info("duplicate_records_skipped", slug=batch.slug, records=skipped)
            if outcome.clamped:
                counts.clamped_at_zero += 1
                self._log.warning("counter_clamped_at_zero", slug=batch.slug)
            return
        raise ConflictError(f"counter kept changing during {self._conflict_retries} attempts")


# --- composition root -------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class HandlerSettings:
    table: TableSettings
    metrics_namespace: str
    function_name: str
    log: LogSettings
    conflict_retries: int


def parse_handler_settings(source: Source, function_name: str | None = None) -> HandlerSettings:
    """Settings of the handler; in Lambda they all come from the function's environment."""
    table = parse_table_settings(source)
    namespace = source.string("--metrics-namespace") or spec.HANDLER_METRICS_NAMESPACE
    return HandlerSettings(
        table=table,
        metrics_namespace=namespace,
        function_name=function_name or spec.HANDLER_FUNCTION_NAME,
        log=parse_log_settings(source),
        conflict_retries=source.integer(
            "--conflict-retries", DEFAULT_CONFLICT_RETRIES, minimum=1, maximum=50
        ),
    )


def emf_sink(settings: HandlerSettings, stream: TextIO) -> EmfWriter:
    return EmfWriter(stream, settings.metrics_namespace, settings.function_name)


def build_handler(
    settings: HandlerSettings, clients: Clients, metrics: MetricsSink
) -> StreamHandler:
    dynamodb = clients.dynamodb()
    table = settings.table
    return StreamHandler(
        DynamoEventLocator(dynamodb, table.table_name, table.model),
        DynamoCounterStore(dynamodb, table.table_name, table.model),
        metrics,
        table.model,
        conflict_retries=settings.conflict_retries,
    )


_warm: dict[str, StreamHandler] = {}
"""The handler built by the first invocation of this Lambda sandbox, reused while warm."""


def handler(event: dict[str, Any], context: Any) -> BatchResponse:
    """Lambda entry point. The one place in the package besides the CLI that reads the
    environment: here it is the Lambda configuration (``TABLE_NAME``, ``RECONCILER_*``)."""
    instance = _warm.get("handler")
    if instance is None:
        env: Mapping[str, str] = dict(os.environ)
        settings = parse_handler_settings(Source({}, env), env.get("AWS_LAMBDA_FUNCTION_NAME"))
        configure_logging("json", settings.log.level)
        # Few attempts: a throttled event is retried by Lambda from its first record anyway.
        clients = Clients(config=client_config(max_attempts=4, connect_timeout=2))
        instance = build_handler(settings, clients, emf_sink(settings, sys.stdout))
        _warm["handler"] = instance
    return instance.handle(event, getattr(context, "aws_request_id", None))
