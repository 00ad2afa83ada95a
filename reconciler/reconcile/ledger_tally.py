"""What the ledger path's looks and writes count, and what one pass holds between its phases.

The ledger path (:mod:`reconciler.reconcile.ledger_pass`) runs its reads and writes on worker
threads; each worker hands back one of the values below, and the functions here count it in
the summary in the pass's own thread, the only one that touches the summary, the spool and
the audit's outcome lines.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

from reconciler.kernel.logs import get_logger
from reconciler.kernel.model import EventKey
from reconciler.reconcile.classic import WriteResult, tally_write, write_outcome
from reconciler.reconcile.core import Correction, CorrectionOutcome, FirstLook, Observation
from reconciler.reconcile.ledger_core import (
    CounterLook,
    KeyDirection,
    KeyRepair,
    KeySuspect,
    LedgerMeasure,
)
from reconciler.reconcile.spool import SPOOL_IN_MEMORY, Spool, correction_spool
from reconciler.reconcile.summary import PassSummary

_log = get_logger("reconciler.reconcile.ledger")


@dataclass(frozen=True, slots=True)
class LedgerLook:
    """The first look at one event in ledger mode."""

    key: EventKey
    counter: CounterLook
    measure: LedgerMeasure
    correction: Correction | None
    suspects: tuple[KeySuspect, ...]
    at: float
    listed: bool = True
    """Whether the event's keys were listed (see :func:`needs_key_listing`)."""
    unheld: int = 0
    """Suspects found beyond the pass's cap, counted but not kept."""


@dataclass(frozen=True, slots=True)
class KeysRechecked:
    """The second looks at one event's suspects."""

    event: EventKey
    repairs: tuple[KeyRepair, ...]
    in_flux: int
    """Suspects whose entry or attendee changed since the first look: left alone."""


@dataclass(frozen=True, slots=True)
class EventRepairs:
    """Every write of one event, in the order one worker makes them: they all touch its counter
    item, so run side by side they would refuse (or cancel) each other."""

    key: EventKey
    correction: Correction | None
    repairs: tuple[KeyRepair, ...]


@dataclass(frozen=True, slots=True)
class CounterRepaired:
    correction: Correction
    """What was written (or last refused); the first look's gap when nothing was."""
    result: WriteResult | None
    """``None``: repaired meanwhile or too hot right now; the next pass measures again."""


@dataclass(frozen=True, slots=True)
class EventApplied:
    """What one event's worker did; ``error`` ended it early (what it did first still counts)."""

    key: EventKey
    counter: CounterRepaired | None
    keys: tuple[tuple[KeyRepair, WriteResult], ...]
    error: Exception | None = None


@dataclass
class LedgerWork:
    """What the ledger path found in one pass: counter gaps spooled (one per drifted event, as
    the classic corrections are), key suspects and repairs in memory (each holds an attendee's
    key; at most ``max_key_suspects`` per pass)."""

    spool_limit: int = SPOOL_IN_MEMORY
    corrections: Spool[Correction] = field(init=False)
    suspects: list[tuple[KeySuspect, ...]] = field(default_factory=list)
    """One group per event, in the order of their first looks."""
    held: int = 0
    repairs: dict[EventKey, tuple[KeyRepair, ...]] = field(default_factory=dict)
    repaired: int = 0

    def __post_init__(self) -> None:
        self.corrections = correction_spool(self.spool_limit)

    @property
    def confirmed(self) -> int:
        """What the brake counts: counter repairs and key repairs alike."""
        return len(self.corrections) + self.repaired

    def events(self) -> Iterator[EventRepairs]:
        """Each event's writes as one unit: its counter gap first, then its key repairs."""
        for correction in self.corrections:
            yield EventRepairs(correction.key, correction, self.repairs.pop(correction.key, ()))
        while self.repairs:
            key = next(iter(self.repairs))
            yield EventRepairs(key, None, self.repairs.pop(key))

    def close(self) -> None:
        self.corrections.close()


def tally_ledger_look(
    summary: PassSummary, look: LedgerLook, work: LedgerWork, max_key_suspects: int
) -> None:
    summary.ledger_events += 1
    slug = look.key.slug
    if look.counter is CounterLook.IN_SYNC:
        summary.in_sync += 1
    elif look.counter is CounterLook.VANISHED:
        summary.vanished += 1
    elif look.counter is CounterLook.IN_FLUX:
        summary.in_flux += 1
        _log.info("counter_in_flux", slug=slug, mode="ledger")
    elif look.correction is not None:
        stored = look.correction.stored
        observation = Observation(look.key, stored, look.measure.present, look.at)
        summary.tally_first_look(FirstLook.SUSPECT, observation)
        work.corrections.append(look.correction)
        if stored.version_unreadable:
            _log.warning("counter_version_unreadable", slug=slug, mode="ledger")
        _log.info(
            "counter_off_ledger",
            slug=slug,
            stored=stored.value,
            present=look.measure.present,
            version=stored.version,
            reason=look.correction.reason.value,
        )
    if not look.listed and look.counter is not CounterLook.VANISHED:
        summary.key_listings_skipped += 1
    _hold_suspects(summary, look, work, max_key_suspects)


def _hold_suspects(
    summary: PassSummary, look: LedgerLook, work: LedgerWork, max_key_suspects: int
) -> None:
    """At most ``max_key_suspects`` per pass; the rest wait for a later pass, which finds
    them again if they still disagree (a repaired key no longer does, so a backlog drains
    by up to the cap per pass)."""
    room = max(0, max_key_suspects - work.held)
    held = look.suspects[:room]
    deferred = len(look.suspects) - len(held) + look.unheld
    summary.key_suspects += len(look.suspects) + look.unheld
    if held:
        work.suspects.append(held)
        work.held += len(held)
        _log.info("ledger_key_suspects", slug=look.key.slug, suspects=len(held))
    if deferred:
        summary.key_suspects_deferred += deferred
        _log.warning(
            "ledger_key_suspects_deferred",
            slug=look.key.slug,
            deferred=deferred,
            max_key_suspects=max_key_suspects,
        )


def tally_rechecked(summary: PassSummary, work: LedgerWork, result: KeysRechecked) -> None:
    summary.keys_in_flux += result.in_flux
    if result.repairs:
        work.repairs[result.event] = result.repairs
        work.repaired += len(result.repairs)
    summary.key_repairs_confirmed = work.repaired


def tally_counter_repair(
    summary: PassSummary, repaired: CounterRepaired
) -> CorrectionOutcome | None:
    """Counts one counter repair; the outcome its audit line records (``None``: no line, the
    event was in flux and nothing was written)."""
    if repaired.result is None:
        summary.in_flux += 1
        _log.info("counter_in_flux", slug=repaired.correction.key.slug, mode="ledger")
        return None
    outcome = tally_write(summary, repaired.correction, repaired.result)
    if outcome is CorrectionOutcome.APPLIED:
        summary.counter_repairs += 1
    return outcome


def tally_key_repair(
    summary: PassSummary, repair: KeyRepair, result: WriteResult
) -> CorrectionOutcome:
    outcome = write_outcome(summary, result, repair.event.slug, "ledger_key_repair_read_back")
    if outcome is CorrectionOutcome.CONFLICT:
        summary.key_conflicts += 1
        return outcome
    if repair.direction is KeyDirection.MISSING:
        summary.key_repairs_missing += 1
    else:
        summary.key_repairs_extra += 1
    return CorrectionOutcome.APPLIED


__all__ = [
    "CounterRepaired",
    "EventApplied",
    "EventRepairs",
    "KeysRechecked",
    "LedgerLook",
    "LedgerWork",
    "tally_counter_repair",
    "tally_key_repair",
    "tally_ledger_look",
    "tally_rechecked",
]
