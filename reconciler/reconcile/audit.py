"""Audit records of corrections: one per correction written, held or refused.

A counter rewrite changes data people rely on (capacity, billing), so each one leaves a line
that says who (run_id), what (key, old and new value), why (reason) and what happened
(outcome). Keys hold event slugs and dates only; attendee data never reaches this module.
"""

from __future__ import annotations

import json
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import IO, Any, Protocol

import structlog

from reconciler.kernel.errors import ReconcilerError
from reconciler.reconcile.core import Correction, CounterKind, Hold


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
    outcome: str
    """``corrected``, ``planned`` (see ``hold``) or ``conflict``."""
    hold: str | None
    version: int | None
    time: str

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class AuditSink(Protocol):
    def write(self, record: AuditRecord) -> None: ...


CORRECTED = "corrected"
PLANNED = "planned"
CONFLICT = "conflict"


def audit_record(
    run_id: str, correction: Correction, outcome: str, time: str, hold: Hold | None = None
) -> AuditRecord:
    stored = correction.stored
    return AuditRecord(
        run_id=run_id,
        partition=correction.key.partition,
        sort_key=correction.key.sort_key,
        slug=correction.key.slug,
        stored=stored.value if stored.kind is CounterKind.NUMBER else None,
        stored_raw=stored.raw if stored.kind is CounterKind.INVALID else None,
        counted=correction.counted,
        delta=correction.delta,
        reason=correction.reason.value,
        outcome=outcome,
        hold=hold.value if hold else None,
        version=stored.version,
        time=time,
    )


class LogAuditSink:
    """Every record becomes a structured log line: ``counter_corrected`` (written or planned)
    or ``counter_correction_conflict``."""

    def __init__(self, logger: Any | None = None) -> None:
        self._log = logger or structlog.stdlib.get_logger("reconciler.audit")

    def write(self, record: AuditRecord) -> None:
        event = "counter_correction_conflict" if record.outcome == CONFLICT else "counter_corrected"
        # Every field, ``time`` included: the record's time is the one in the audit file, so
        # the log line and the file line of one correction can be matched.
        self._log.info(event, **record.to_dict())


class JsonLinesAuditSink:
    """Appends one JSON object per line and flushes it, so a crash loses at most the line in
    progress and concurrent runs (shards) can share a file opened in append mode."""

    def __init__(self, path: Path) -> None:
        self._path = path
        self._lock = threading.Lock()
        self._file: IO[str] | None = None

    def write(self, record: AuditRecord) -> None:
        line = json.dumps(record.to_dict(), sort_keys=True, separators=(",", ":")) + "\n"
        with self._lock:
            try:
                if self._file is None:
                    self._file = self._path.open("a", encoding="utf-8")
                self._file.write(line)
                self._file.flush()
            except OSError as exc:
                # A failed pass with its summary line, not a traceback; the log sink, which
                # runs first, has the record.
                raise AuditWriteError(f"audit file {str(self._path)!r}: {exc}") from exc

    def close(self) -> None:
        with self._lock:
            if self._file is not None:
                self._file.close()
                self._file = None


class FanOutAuditSink:
    def __init__(self, *sinks: AuditSink) -> None:
        self._sinks = sinks

    def write(self, record: AuditRecord) -> None:
        for sink in self._sinks:
            sink.write(record)
