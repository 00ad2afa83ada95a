"""What the status page shows: a bounded history of passes and corrections, and one snapshot.

The history lives in memory only and is fed by the scheduled job after each pass, from the
summary it already has; a restart starts it empty, which is fine for a page meant to answer
"what has this replica done lately" (Prometheus keeps the long view). Both lists are bounded,
so a worker running for months holds the same few kilobytes as one started a minute ago, and
they keep slugs and counts only: nothing in a summary that could be personal data is copied.
"""

from __future__ import annotations

import threading
from collections import deque
from dataclasses import dataclass
from typing import Protocol

from reconciler.reconcile.summary import PassSummary
from reconciler.serve.metric_labels import Outcome

PASSES_KEPT = 50
CORRECTIONS_KEPT = 20


@dataclass(frozen=True, slots=True)
class PassRecord:
    """One finished pass as the page lists it and the chart plots it."""

    run_id: str
    finished_at: float
    duration_seconds: float
    outcome: Outcome
    events_checked: int
    drift_over: int
    drift_under: int
    corrected: int
    paused: bool
    brake_reason: str | None
    """Why the brake tripped, when it did (its reason names counts, never an event)."""

    @classmethod
    def of(
        cls, summary: PassSummary, outcome: Outcome, *, finished_at: float, duration: float
    ) -> PassRecord:
        return cls(
            run_id=summary.run_id,
            finished_at=finished_at,
            duration_seconds=max(duration, 0.0),
            outcome=outcome,
            events_checked=summary.events_checked,
            drift_over=summary.drift_over,
            drift_under=summary.drift_under,
            corrected=summary.corrected,
            paused=summary.corrections_paused,
            brake_reason=(summary.brake.reason or "tripped") if summary.brake_tripped else None,
        )

    @property
    def completed(self) -> bool:
        """Went through every event: only such a pass says anything about drift or the brake."""
        return self.outcome in (Outcome.SUCCESS, Outcome.BRAKE)


@dataclass(frozen=True, slots=True)
class CorrectionRecord:
    slug: str
    run_id: str
    finished_at: float
    """When the pass that applied it finished (the summary does not time each write)."""


class StatusHistory:
    """The last :data:`PASSES_KEPT` passes and :data:`CORRECTIONS_KEPT` corrections, oldest
    first; written by the pass thread, read by HTTP threads, hence the lock."""

    def __init__(self, passes: int = PASSES_KEPT, corrections: int = CORRECTIONS_KEPT) -> None:
        self._passes: deque[PassRecord] = deque(maxlen=passes)
        self._corrections: deque[CorrectionRecord] = deque(maxlen=corrections)
        self._lock = threading.Lock()

    def record(
        self, summary: PassSummary, outcome: Outcome, *, finished_at: float, duration: float
    ) -> None:
        record = PassRecord.of(summary, outcome, finished_at=finished_at, duration=duration)
        with self._lock:
            self._passes.append(record)
            self._corrections.extend(
                CorrectionRecord(slug, summary.run_id, finished_at)
                for slug in summary.corrected_slugs
            )

    def passes(self) -> tuple[PassRecord, ...]:
        with self._lock:
            return tuple(self._passes)

    def corrections(self) -> tuple[CorrectionRecord, ...]:
        with self._lock:
            return tuple(self._corrections)

    def snapshot(
        self, *, now: float, version: str, lease: LeaseView | None, pass_in_progress: bool
    ) -> StatusSnapshot:
        with self._lock:
            passes, corrections = tuple(self._passes), tuple(self._corrections)
        return StatusSnapshot(
            now=now,
            version=version,
            leader=LeaderState.of(lease),
            pass_in_progress=pass_in_progress,
            passes=passes,
            corrections=corrections,
        )


class LeaseView(Protocol):
    """The leader lease as the page reads it (:class:`~reconciler.serve.lease.LeaderLease`)."""

    owner: str

    @property
    def holder(self) -> str | None: ...

    def is_held(self) -> bool: ...


@dataclass(frozen=True, slots=True)
class LeaderState:
    leads: bool
    owner: str | None
    """This replica's lease owner id; None when it runs without a lease (always leader)."""
    holder: str | None

    @classmethod
    def of(cls, lease: LeaseView | None) -> LeaderState:
        if lease is None:
            return cls(leads=True, owner=None, holder=None)
        return cls(leads=lease.is_held(), owner=lease.owner, holder=lease.holder)


@dataclass(frozen=True, slots=True)
class StatusSnapshot:
    """Everything the page shows, taken at once so the page cannot contradict itself."""

    now: float
    version: str
    leader: LeaderState
    pass_in_progress: bool
    passes: tuple[PassRecord, ...]
    corrections: tuple[CorrectionRecord, ...]

    @property
    def last_completed(self) -> PassRecord | None:
        return next((record for record in reversed(self.passes) if record.completed), None)

    @property
    def paused(self) -> bool:
        """The lag gate's decision before the last pass of any outcome (it is taken first)."""
        return bool(self.passes) and self.passes[-1].paused

    @property
    def brake_reason(self) -> str | None:
        last = self.last_completed
        return None if last is None else last.brake_reason


__all__ = [
    "CORRECTIONS_KEPT",
    "PASSES_KEPT",
    "CorrectionRecord",
    "LeaderState",
    "LeaseView",
    "PassRecord",
    "StatusHistory",
    "StatusSnapshot",
]
