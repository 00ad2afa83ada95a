"""One Lambda batch of stream records applied to the event counters.

:class:`StreamHandler` takes its ports injected (``reconciler.handler.entry`` wires the real
ones), so tests run it against fakes or a moto server.

Per batch: parse every record (bad ones are skipped and counted, never fatal), group the
attendee changes per event, read the event's counter and the ledger entries of its items in one
``BatchGetItem``, fold each item's records over its entry (:mod:`reconciler.handler.ledger`),
and write the changed entries and the counter's delta in one ``TransactWriteItems``, each entry
conditioned on what was read. Lambda's retries, replays and reorderings (per-item order is the
one AWS keeps) never count a state change twice. Failures are reported per Lambda's
partial-batch contract.
"""

from __future__ import annotations

from collections.abc import Mapping
from contextlib import nullcontext
from dataclasses import dataclass, fields
from typing import Protocol

import structlog

from reconciler.handler.ledger import MAX_ENTRIES_PER_TRANSACTION, counter_change, plan_event
from reconciler.handler.ledger_store import LedgerStore
from reconciler.handler.records import (
    AttendeeChange,
    ChangeKind,
    Ignored,
    Malformed,
    SlugBatch,
    earliest,
    group_by_slug,
    parse_event,
    parse_record,
)
from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.errors import ConflictError, ReconcilerError
from reconciler.kernel.event_lookup import EventLocator, LookupOutcome
from reconciler.kernel.logs import get_logger
from reconciler.kernel.model import EventKey, TableModel

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
        store: LedgerStore,
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

        items = list(dict.fromkeys(change.item for change in batch.changes))
        for start in range(0, len(items), MAX_ENTRIES_PER_TRANSACTION):
            share = set(items[start : start + MAX_ENTRIES_PER_TRANSACTION])
            chunk = [change for change in batch.changes if change.item in share]
            self._apply_chunk(key, batch.slug, chunk, counts)

    def _apply_chunk(
        self, key: EventKey, slug: str, changes: list[AttendeeChange], counts: BatchCounts
    ) -> None:
        """Read the counter and the entries, fold, write both in one transaction.

        A transaction cancelled by a race (the reconciler's repair, a concurrent batch of a
        split shard, a retry of this very batch) re-reads and decides again, a bounded number
        of times; the entries' conditions make a second application of a record impossible.
        """
        records = len(changes)
        items = list(dict.fromkeys(change.item for change in changes))
        for _attempt in range(self._conflict_retries):
            read = self._store.read(key, slug, items)
            if read is None:
                counts.orphan_records += records
                self._log.warning(
                    "event_orphaned", slug=slug, records=records, reason="event_deleted"
                )
                return
            if read.counter.invalid is not None:
                counts.malformed_records += records
                self._log.warning(
                    "stream_record_malformed",
                    reason=read.counter.invalid,
                    slug=slug,
                    records=records,
                )
                return
            plan = plan_event(changes, read.entries)
            if plan.writes:
                change = counter_change(read.counter, plan.delta)
                try:
                    self._store.commit(key, slug, read.counter, change, plan.writes)
                except ConflictError:
                    self._log.info("counter_write_conflict", slug=slug)
                    continue
                counts.counter_updates += 1
                self._log.debug("counter_updated", slug=slug, delta=plan.delta)
                if change.clamped:
                    counts.clamped_at_zero += 1
                    self._log.warning("counter_clamped_at_zero", slug=slug)
            if plan.duplicates:
                counts.duplicates_skipped += plan.duplicates
                self._log.info("duplicate_records_skipped", slug=slug, records=plan.duplicates)
            return
        raise ConflictError(f"counter kept changing during {self._conflict_retries} attempts")
