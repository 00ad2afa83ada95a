"""Audit records of corrections: one per confirmed correction, written, held or refused.

A counter rewrite changes data people rely on (capacity, billing), so each one leaves a line
that says who (run_id), what (key, old and new value), why (reason) and what happened
(outcome, in the words of :class:`CorrectionOutcome`, the same as the metrics' labels). Keys
hold event slugs and dates only; attendee data never reaches this module.

Written ahead: a write is preceded by an *intent* line (``phase: "intent"``, no outcome yet) and
followed by its *outcome* line, so a process killed between the two still leaves a trace. A
later pass finds each intent without an outcome in the audit file, reads the item back and
appends a ``phase: "resolved"`` line (see :func:`resolve_intent`).
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import os
import threading
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any, Protocol, TypeVar

import structlog

from reconciler.kernel.errors import ReconcilerError
from reconciler.kernel.model import EventKey
from reconciler.reconcile.audit_keys import (
    KEY_INTENT_LOG_EVENT,
    KEY_LOG_EVENTS,
    FanOutKeyAuditSink,
    KeyAuditSink,
    KeyRepairRecord,
    as_intent,
    key_intent_record,
    key_repair_record,
    resolve_key_intent,
    settled,
)
from reconciler.reconcile.core import (
    Correction,
    CorrectionOutcome,
    CounterKind,
    StoredCounter,
    written_value,
)


class AuditWriteError(ReconcilerError):
    """The audit file could not be written (disk full, file removed with its directory...)."""


@dataclass(frozen=True, slots=True)
class AuditRecord:
    run_id: str
    partition: str
    sort_key: str
    slug: str
    stored: int | None
    """The stored number; ``None`` when it was missing or not a number (see ``stored_raw``)."""
    stored_raw: str | None
    """The exact old attribute for an invalid counter, kept so nothing is lost."""
    counted: int
    delta: int | None
    reason: str
    outcome: str | None
    """A :class:`CorrectionOutcome` value: ``applied``, ``conflict``, or a hold (``dry_run``,
    ``paused``, ``braked``); ``None`` on an intent line (the write has not happened yet)."""
    hold: str | None
    """The outcome again when the correction was held, else ``None``: a filter for "planned"."""
    version: int | None
    time: str
    phase: str = "outcome"
    """``intent`` (before the write), ``outcome`` (after it) or ``resolved`` (a later pass
    settled an intent that has no outcome line by reading the item back)."""
    version_after: int | None = None
    """The ``counterVersion`` the write leaves behind: what a read-back compares against."""
    resolved_by: str | None = None
    """On a ``resolved`` line: the run that read the item back."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def pairing(self) -> tuple[str, str, str]:
        """An intent and its outcome share the run and the event (one write per event)."""
        return (self.run_id, self.partition, self.sort_key)


class AuditSink(Protocol):
    def write(self, record: AuditRecord) -> None: ...


Paired = TypeVar("Paired", AuditRecord, KeyRepairRecord)


def intent_record(run_id: str, correction: Correction, time: str) -> AuditRecord:
    """The line written before the write: the outcome is not known yet."""
    return as_intent(audit_record(run_id, correction, CorrectionOutcome.APPLIED, time))


def resolve_intent(
    intent: AuditRecord, now: StoredCounter | None, run_id: str, time: str
) -> AuditRecord:
    """Settle an intent that has no outcome line: ``applied`` when the item holds exactly what
    the write sets (``counted`` and ``version_after``), else ``conflict`` (never written, or
    overwritten since; the pass checks the event again either way)."""
    applied = intent.version_after is not None and written_value(
        intent.counted, intent.version_after, now
    )
    return settled(intent, applied, run_id, time)


def audit_record(
    run_id: str, correction: Correction, outcome: CorrectionOutcome, time: str
) -> AuditRecord:
    if outcome is CorrectionOutcome.IN_FLUX:
        raise ValueError("an in-flux event was never confirmed, so it has no correction to audit")
    stored = correction.stored
    return AuditRecord(
        version_after=correction.version_after,
        run_id=run_id,
        partition=correction.key.partition,
        sort_key=correction.key.sort_key,
        slug=correction.key.slug,
        stored=stored.value if stored.kind is CounterKind.NUMBER else None,
        stored_raw=stored.raw if stored.kind is CounterKind.INVALID else None,
        counted=correction.counted,
        delta=correction.delta,
        reason=correction.reason.value,
        outcome=outcome.value,
        hold=outcome.value if outcome.held else None,
        version=stored.version,
        time=time,
    )


LOG_EVENTS = {
    CorrectionOutcome.APPLIED: "counter_corrected",
    CorrectionOutcome.CONFLICT: "counter_correction_conflict",
    CorrectionOutcome.DRY_RUN: "counter_correction_planned",
    CorrectionOutcome.PAUSED: "counter_correction_planned",
    CorrectionOutcome.BRAKED: "counter_correction_planned",
}
"""The log event of each audited outcome: an alert or a search for ``counter_corrected`` must
only ever find counters that were really rewritten (the record's ``outcome`` says the rest)."""


class LogAuditSink:
    """Every record becomes a structured log line named by :data:`LOG_EVENTS`."""

    def __init__(self, logger: Any | None = None) -> None:
        self._log = logger or structlog.stdlib.get_logger("reconciler.audit")

    def write(self, record: AuditRecord) -> None:
        if record.outcome is None:
            self._log.info("counter_correction_intent", **record.to_dict())
            return
        event = LOG_EVENTS[CorrectionOutcome(record.outcome)]
        # Every field, ``time`` included: the record's time is the one in the audit file, so
        # the log line and the file line of one correction can be matched.
        self._log.info(event, **record.to_dict())

    def write_key_repair(self, record: KeyRepairRecord) -> None:
        if record.outcome is None:
            self._log.info(KEY_INTENT_LOG_EVENT, **record.to_dict())
            return
        self._log.info(KEY_LOG_EVENTS[CorrectionOutcome(record.outcome)], **record.to_dict())


class JsonLinesAuditSink:
    """Appends one JSON object per line and flushes it, so a crash loses at most the line in
    progress and concurrent runs (shards) can share a file opened in append mode."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._file: IO[str] | None = None

    def write(self, record: AuditRecord) -> None:
        # An intent must survive a crash of the machine too, not only of the process.
        self._append(record.to_dict(), sync=record.phase == "intent")

    def write_key_repair(self, record: KeyRepairRecord) -> None:
        self._append(record.to_dict(), sync=record.phase == "intent")

    def pending_intents(self, older_than: datetime) -> Iterator[AuditRecord]:
        """Counter-correction intents with neither an outcome nor a resolution line, written
        before ``older_than`` (a younger one may belong to a shard still between intent and
        outcome). Streams the file; holds only the intents still open."""
        return self._open_intents(_correction_line, older_than)

    def pending_key_intents(self, older_than: datetime) -> Iterator[KeyRepairRecord]:
        """The same for the ledger path's key repairs."""
        return self._open_intents(_key_repair_line, older_than)

    def _open_intents(
        self, parse: Callable[[str], Paired | None], older_than: datetime
    ) -> Iterator[Paired]:
        open_intents: dict[tuple[str, ...], Paired] = {}
        with (
            self._lock,
            contextlib.suppress(FileNotFoundError),
            self._path.open(encoding="utf-8") as lines,
        ):
            for line in lines:
                record = parse(line)
                if record is None:
                    continue
                if record.phase == "intent":
                    open_intents[record.pairing] = record
                else:
                    open_intents.pop(record.pairing, None)
        for intent in open_intents.values():
            if _written_before(intent.time, older_than):
                yield intent

    def _append(self, fields: dict[str, Any], *, sync: bool = False) -> None:
        line = json.dumps(fields, sort_keys=True, separators=(",", ":")) + "\n"
        with self._lock:
            try:
                if self._file is None:
                    self._file = self._path.open("a", encoding="utf-8")
                self._file.write(line)
                self._file.flush()
                if sync:
                    os.fsync(self._file.fileno())
            except OSError as exc:
                # A failed pass with its summary line, not a traceback; the log sink, which
                # runs first, has the record.
                raise AuditWriteError(f"audit file {str(self._path)!r}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


def _line_of(cls: type[Paired], kind: str | None) -> Callable[[str], Paired | None]:
    """A parser of the audit file's lines of one kind; ``None`` for the other kind's lines,
    foreign or torn ones."""
    names = frozenset(field.name for field in dataclasses.fields(cls))

    def parse(line: str) -> Paired | None:
        try:
            fields = json.loads(line)
        except ValueError:
            return None
        if not isinstance(fields, dict) or fields.get("kind") != kind:
            return None
        try:
            return cls(**{k: v for k, v in fields.items() if k in names})
        except TypeError:
            return None

    return parse


_correction_line = _line_of(AuditRecord, None)
_key_repair_line = _line_of(KeyRepairRecord, "key_repair")


def _written_before(time: str, limit: datetime) -> bool:
    try:
        return datetime.fromisoformat(time) < limit
    except (TypeError, ValueError):
        return True


INTENT_GRACE = timedelta(minutes=5)
"""How old an open intent must be before a pass resolves it: a write and its outcome line
follow an intent within seconds (botocore's retries included), so an older one was cut off."""


class IntentLog(Protocol):
    def pending_intents(self, older_than: datetime) -> Iterator[AuditRecord]: ...

    def pending_key_intents(self, older_than: datetime) -> Iterator[KeyRepairRecord]: ...


def resolve_pending(
    intents: IntentLog,
    read: Callable[[EventKey], StoredCounter | None],
    audit: AuditSink,
    *,
    run_id: str,
    now: datetime,
    stop_if_asked: Callable[[], None],
) -> int:
    """Reads back the item of every open intent older than :data:`INTENT_GRACE` and appends its
    ``resolved`` line; returns how many were resolved."""
    time = now.astimezone(UTC).isoformat(timespec="milliseconds")

    def resolve(intent: AuditRecord) -> None:
        stored = read(EventKey(intent.partition, intent.sort_key))
        audit.write(resolve_intent(intent, stored, run_id, time))

    return settle_each(intents.pending_intents(now - INTENT_GRACE), resolve, stop_if_asked)


def settle_each(
    pending: Iterable[Paired], resolve: Callable[[Paired], None], stop_if_asked: Callable[[], None]
) -> int:
    """Resolve every open intent (the pass may be stopped between two); how many were."""
    resolved = 0
    for intent in pending:
        stop_if_asked()
        resolve(intent)
        resolved += 1
    return resolved


class FanOutAuditSink:
    def __init__(self, *sinks: AuditSink) -> None:
        self._sinks = sinks

    def write(self, record: AuditRecord) -> None:
        for sink in self._sinks:
            sink.write(record)


__all__ = [
    "AuditRecord",
    "AuditSink",
    "AuditWriteError",
    "FanOutAuditSink",
    "FanOutKeyAuditSink",
    "IntentLog",
    "JsonLinesAuditSink",
    "KeyAuditSink",
    "KeyRepairRecord",
    "LogAuditSink",
    "audit_record",
    "intent_record",
    "key_intent_record",
    "key_repair_record",
    "resolve_intent",
    "resolve_key_intent",
    "resolve_pending",
    "settle_each",
]
