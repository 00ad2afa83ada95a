"""The result of one reconciliation pass: what ``run`` prints and ``serve`` turns into metrics.

Typed, so that its readers (the scheduled job, the Prometheus metrics, the CloudWatch
publisher, the exit code) cannot drift from the pass that writes it. :meth:`PassSummary.to_dict`
is the one place that flattens it into the JSON keys scripts parse; those keys only ever grow.
"""

from __future__ import annotations

import enum
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from reconciler.reconcile.core import (
    BrakeDecision,
    CorrectionOutcome,
    FirstLook,
    Hold,
    Observation,
    Reason,
    Shard,
    StoredCounter,
    drift_direction,
    reason_for,
)
from reconciler.reconcile.rotation_core import RotationReport


class StopReason(enum.Enum):
    """Why a pass ended before it was done, if it did; neither says anything about the table."""

    NONE = "none"
    STOPPED_EARLY = "stopped_early"
    """``should_stop`` said so (shutdown, leadership lost): the event in progress was finished."""
    LEASE_LOST = "lease_lost"
    """``before_write`` found the lease gone: aborted before the next write (also ``failed``)."""


class PassOutcome(enum.StrEnum):
    """How a pass ended, in one word: ``run``'s summary and ``reconciler_runs_total{outcome}``."""

    SUCCESS = "success"
    EMPTY = "empty"
    """Complete, and no event was found: usually a setting (the table, the event partitions,
    the shard), so it is reported, never passed as an unremarkable success."""
    FAILURE = "failure"
    BRAKE = "brake"
    ABORTED = "aborted"
    """Stopped early on purpose (signal, deadline, shutdown, lost lease): neither."""


NO_EVENTS_HINT = "--table-name / TABLE_NAME, --event-partitions, --shard and AWS_REGION"
"""What to check when a pass finds no event at all."""


@dataclass(frozen=True, slots=True, order=True)
class AwsErrorKey:
    """An AWS error as the metrics label it; a pair, so no operation or code is ever re-parsed
    from a string (a code is not guaranteed to be free of the separator)."""

    operation: str
    code: str

    def __str__(self) -> str:
        """The ``"<Operation>:<ErrorCode>"`` key of the summary's ``aws_errors`` JSON."""
        return f"{self.operation}:{self.code}"


@dataclass(frozen=True, slots=True)
class IoStats:
    """Cumulative I/O of an adapter; a pass reports the difference over its own run."""

    requests: Mapping[str, int] = field(default_factory=dict)
    """Operation -> requests sent (failed ones included)."""
    read_units: float = 0.0
    write_units: float = 0.0
    errors: Mapping[AwsErrorKey, int] = field(default_factory=dict)
    """Attempts that failed so, retried ones included (throttling boto3 absorbed still shows)."""

    def minus(self, earlier: IoStats) -> IoStats:
        return IoStats(
            requests=_subtract(self.requests, earlier.requests),
            read_units=self.read_units - earlier.read_units,
            write_units=self.write_units - earlier.write_units,
            errors=_subtract(self.errors, earlier.errors),
        )

    def plus(self, other: IoStats) -> IoStats:
        """Two adapters' I/O as one (the registration table's and the ledger's)."""
        return IoStats(
            requests=_add(self.requests, other.requests),
            read_units=self.read_units + other.read_units,
            write_units=self.write_units + other.write_units,
            errors=_add(self.errors, other.errors),
        )


K = TypeVar("K", str, AwsErrorKey)


def _subtract(now: Mapping[K, int], before: Mapping[K, int]) -> dict[K, int]:
    result = {key: value - before.get(key, 0) for key, value in now.items()}
    return {key: value for key, value in sorted(result.items()) if value}


def _add(one: Mapping[K, int], other: Mapping[K, int]) -> dict[K, int]:
    result = dict(one)
    for key, value in other.items():
        result[key] = result.get(key, 0) + value
    return {key: value for key, value in sorted(result.items()) if value}


NOT_BRAKED = BrakeDecision(tripped=False)

CORRECTED_SLUGS_KEPT = 20
"""How many corrected slugs a summary remembers: enough for the status page's list, and a
pass that corrects a whole table still holds a few hundred bytes, not one string per event."""


@dataclass(slots=True)
class PassSummary:
    run_id: str
    events_checked: int = 0
    in_sync: int = 0
    drifted: int = 0
    """Events whose stored count differed from the recount at the first look."""
    drift_over: int = 0
    """Drifted events whose stored count was above the true count."""
    drift_under: int = 0
    drift_attendees_over: int = 0
    """Sum of |stored - counted| over events stored too high."""
    drift_attendees_under: int = 0
    missing: int = 0
    """Events with no counter at the first look (initialized if confirmed)."""
    invalid: int = 0
    vanished: int = 0
    """Event items deleted between the listing and the first look."""
    unsupported: int = 0
    """Events whose ``counterVersion`` was not an integer at the first look (the handler skips
    them): both paths replace it once confirmed (``versions_replaced``)."""
    versions_replaced: int = 0
    """Corrections that replaced an unreadable ``counterVersion`` (also in ``corrected``)."""
    intents_resolved: int = 0
    """Audit intents without an outcome (a run killed mid-write) settled by a read-back."""
    lost_responses: int = 0
    """Refused writes that read back as written (a retry of a landed write): in ``corrected``."""
    ambiguous: int = 0
    in_flux: int = 0
    confirmed: int = 0
    corrected: int = 0
    initialized: int = 0
    """Corrected events that had no counter (included in ``corrected``)."""
    conflicts: int = 0
    planned: int = 0
    """Confirmed corrections not written, all for the one reason in ``hold``."""
    hold: Hold | None = None
    brake: BrakeDecision = NOT_BRAKED
    dry_run: bool = False
    corrections_paused: bool = False
    event_slug: str | None = None
    shard: Shard | None = None
    settle_seconds: float | None = None
    ledger_events: int = 0
    """Events checked against their backfilled ledger (counter and per key)."""
    classic_events: int = 0
    """Events checked by the classic recount (no backfilled ledger, or no state table)."""
    counter_repairs: int = 0
    """Ledger-mode counters set to the ledger's count (also in ``corrected``)."""
    key_suspects: int = 0
    """Attendee items whose entry disagreed with the table at the first look."""
    keys_in_flux: int = 0
    """Suspect items that changed (or agreed again) by the second look: not repaired."""
    key_repairs_confirmed: int = 0
    key_repairs_missing: int = 0
    """Entries written present (a lost INSERT), each with +1 on the counter."""
    key_repairs_extra: int = 0
    """Entries written absent (a lost REMOVE), each with -1 on the counter."""
    key_conflicts: int = 0
    """Key repairs whose transaction was cancelled (re-checked by the next pass)."""
    key_planned: int = 0
    """Confirmed key repairs not written, for the reason in ``hold``."""
    key_suspects_deferred: int = 0
    """Key suspects beyond ``--max-key-suspects`` not held by this pass (found again by the
    next one if they still disagree); included in ``key_suspects``."""
    key_listings_skipped: int = 0
    """Ledger-mode events whose keys were not listed: counter, present entries and attendee
    items all agreed, so the counter was exact."""
    rotation: RotationReport | None = None
    """The rotating sweep's walk (``--max-read-units`` / ``--full-sweep-every``)."""
    sweep: str | None = None
    """``query``, ``scan`` or ``export``: how this pass found its events (``None`` if it
    failed first)."""
    export: dict[str, Any] | None = None
    """With ``--from-export``: the export read (id, time, items) and what its sweep found."""
    scanned_in_sync: int = 0
    """Events the scan sweep found in sync without another read (also in ``in_sync``)."""
    corrected_slugs: list[str] = field(default_factory=list)
    """The slugs of the last :data:`CORRECTED_SLUGS_KEPT` corrected counters, oldest first,
    for ``serve``'s status page; not in :meth:`to_dict` (the counts are)."""
    io: IoStats = field(default_factory=IoStats)
    duration_seconds: float = 0.0
    stop: StopReason = StopReason.NONE
    stopped_by: str | None = None
    """What stopped a ``run`` early: ``SIGTERM``, ``SIGINT`` or ``deadline``."""
    failed: bool = False
    error: str | None = None

    def note_corrected(self, slug: str) -> None:
        """Count one applied counter correction and remember its slug (bounded)."""
        self.corrected += 1
        self.corrected_slugs.append(slug)
        del self.corrected_slugs[:-CORRECTED_SLUGS_KEPT]

    @property
    def brake_tripped(self) -> bool:
        return self.brake.tripped

    @property
    def consumed_read_units(self) -> float:
        return self.io.read_units

    @property
    def stopped_on_purpose(self) -> bool:
        """Shutdown or a lost lease: the pass says nothing about the health of the table."""
        return self.stop is not StopReason.NONE

    def tally_first_look(self, look: FirstLook, observation: Observation) -> None:
        """Count what one first look found (the pass itself keeps the suspects)."""
        if look is FirstLook.IN_SYNC:
            self.in_sync += 1
        elif look is FirstLook.VANISHED:
            self.vanished += 1
        elif look is FirstLook.UNSUPPORTED:
            self.unsupported += 1
            return
        if observation.stored is not None:
            if observation.stored.version_unreadable:
                self.unsupported += 1
            if look is FirstLook.SUSPECT:
                self._tally_suspect(observation.stored, observation.counted)

    def _tally_suspect(self, stored: StoredCounter, counted: int) -> None:
        reason = reason_for(stored, counted)
        if reason is Reason.MISSING:
            self.missing += 1
        elif reason is Reason.INVALID:
            self.invalid += 1
        elif reason is Reason.DRIFT:
            self.drifted += 1
            direction = drift_direction(stored, counted)
            if direction is not None and direction.over:
                self.drift_over += 1
                self.drift_attendees_over += direction.magnitude
            elif direction is not None:
                self.drift_under += 1
                self.drift_attendees_under += direction.magnitude

    @property
    def outcome(self) -> PassOutcome:
        """An aborted pass outranks its failure (a lost lease is not an unhealthy pass), a
        tripped brake outranks success. A pass that found no export newer than the previous
        pass's checks no event on purpose: a success, not an empty pass."""
        if self.stop is not StopReason.NONE:
            return PassOutcome.ABORTED
        if self.failed:
            return PassOutcome.FAILURE
        if self.brake_tripped:
            return PassOutcome.BRAKE
        unchanged = self.export is not None and self.export.get("unchanged") is True
        if self.events_checked == 0 and not unchanged:
            return PassOutcome.EMPTY
        return PassOutcome.SUCCESS

    def correction_outcomes(self) -> dict[CorrectionOutcome, int]:
        """Every outcome, zero included; held corrections under their hold's outcome."""
        counts = dict.fromkeys(CorrectionOutcome, 0)
        counts[CorrectionOutcome.APPLIED] = self.corrected
        counts[CorrectionOutcome.CONFLICT] = self.conflicts
        counts[CorrectionOutcome.IN_FLUX] = self.in_flux
        if self.hold is not None:
            counts[self.hold.outcome] = self.planned
        return counts

    def start_figures(self) -> dict[str, Any]:
        """The ``pass_started`` log line: what the pass was asked to do."""
        return {
            "dry_run": self.dry_run,
            "corrections_paused": self.corrections_paused,
            "settle_seconds": self.settle_seconds,
            "event_slug": self.event_slug,
            "shard": str(self.shard) if self.shard else None,
        }

    def log_figures(self) -> dict[str, Any]:
        """The few numbers of the ``pass_finished`` log line: enough to tell a pass's outcome
        in a log search, and the rotating sweep's walk (its runbook reads it from ``serve``'s
        logs). The whole summary is ``run``'s stdout and ``serve``'s metrics; a log
        line repeating it would only say everything twice."""
        return {
            "events_checked": self.events_checked,
            "drifted": self.drifted,
            "confirmed": self.confirmed,
            "corrected": self.corrected,
            "planned": self.planned,
            "hold": self.hold.value if self.hold is not None else None,
            "conflicts": self.conflicts,
            "in_flux": self.in_flux,
            "duration_seconds": round(self.duration_seconds, 3),
            "stop": self.stop.value,
            "outcome": self.outcome.value,
            "failed": self.failed,
            "error": self.error,
            "rotation": self.rotation.to_dict() if self.rotation is not None else None,
        }

    def to_dict(self) -> dict[str, Any]:
        """The JSON of ``run``'s stdout: keys are only ever added."""
        return {
            "run_id": self.run_id,
            "events_checked": self.events_checked,
            "in_sync": self.in_sync,
            "drifted": self.drifted,
            "drift_over": self.drift_over,
            "drift_under": self.drift_under,
            "drift_attendees_over": self.drift_attendees_over,
            "drift_attendees_under": self.drift_attendees_under,
            "missing": self.missing,
            "invalid": self.invalid,
            "vanished": self.vanished,
            "unsupported": self.unsupported,
            "versions_replaced": self.versions_replaced,
            "lost_responses": self.lost_responses,
            "intents_resolved": self.intents_resolved,
            "ambiguous": self.ambiguous,
            "in_flux": self.in_flux,
            "confirmed": self.confirmed,
            "corrected": self.corrected,
            "initialized": self.initialized,
            "conflicts": self.conflicts,
            "planned": self.planned,
            "hold": self.hold.value if self.hold is not None else None,
            "brake_tripped": self.brake.tripped,
            "brake_reason": self.brake.reason,
            "brake_overridden": self.brake.overridden,
            "dry_run": self.dry_run,
            "corrections_paused": self.corrections_paused,
            "event_slug": self.event_slug,
            "shard": str(self.shard) if self.shard is not None else None,
            "settle_seconds": self.settle_seconds,
            "ledger_events": self.ledger_events,
            "classic_events": self.classic_events,
            "counter_repairs": self.counter_repairs,
            "key_suspects": self.key_suspects,
            "keys_in_flux": self.keys_in_flux,
            "key_repairs_confirmed": self.key_repairs_confirmed,
            "key_repairs_missing": self.key_repairs_missing,
            "key_repairs_extra": self.key_repairs_extra,
            "key_conflicts": self.key_conflicts,
            "key_planned": self.key_planned,
            "key_suspects_deferred": self.key_suspects_deferred,
            "key_listings_skipped": self.key_listings_skipped,
            "rotation": self.rotation.to_dict() if self.rotation is not None else None,
            "sweep": self.sweep,
            "export": self.export,
            "scanned_in_sync": self.scanned_in_sync,
            "consumed_read_units": round(self.io.read_units, 3),
            "consumed_write_units": round(self.io.write_units, 3),
            "requests": dict(self.io.requests),
            "aws_errors": {str(key): count for key, count in sorted(self.io.errors.items())},
            "duration_seconds": round(self.duration_seconds, 3),
            "stopped_early": self.stop is StopReason.STOPPED_EARLY,
            "stopped_by": self.stopped_by,
            "aborted": self.stop.value if self.stop is StopReason.LEASE_LOST else None,
            "failed": self.failed,
            "outcome": self.outcome.value,
            "error": self.error,
        }
