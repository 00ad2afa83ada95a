"""The ledger path of a pass: events whose ledger is backfilled are repaired exactly through it.

The imperative shell around :mod:`reconciler.reconcile.ledger_core`, called by the pass
(:class:`reconciler.reconcile.reconciler.Reconciler`) in its three phases:

- sweep (worker threads): measure the counter against the ledger, then list the event's
  entries and attendee keys and keep the items that disagree as suspects;
- recheck: a settle window after its event's first look, each suspect is looked at again;
- apply: a counter gap is measured again and written at once (a count takes milliseconds, so
  a hot event still has quiet moments), each confirmed key repair is one transaction.

Every write honours what a classic write honours: ``should_stop``, ``before_write`` (the
lease), dry run, the lag gate's pause, the brake (which counts these repairs) and the audit.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.kernel.errors import ConflictError
from reconciler.kernel.logs import get_logger
from reconciler.kernel.model import EventKey
from reconciler.reconcile.audit import KeyAuditSink, key_repair_record
from reconciler.reconcile.core import (
    Correction,
    CorrectionOutcome,
    FirstLook,
    Observation,
    Plan,
    Reason,
)
from reconciler.reconcile.ledger_core import (
    CounterLook,
    KeyDirection,
    KeyRepair,
    KeySuspect,
    LedgerMeasure,
    confirm_key,
    judge_measure,
    key_suspects,
)
from reconciler.reconcile.pass_control import PassControl
from reconciler.reconcile.ports import CounterTable, LedgerStore
from reconciler.reconcile.summary import PassSummary

MEASURE_ATTEMPTS = 8
"""Measurements of a counter against its ledger before a hot event is left to the next pass;
each takes a few milliseconds, so a counter that moved during one is usually quiet the next."""
WRITE_ATTEMPTS = 3
"""A counter repair refused because a record landed after its measurement is measured again."""


@dataclass(frozen=True, slots=True)
class LedgerLook:
    """The first look at one event in ledger mode."""

    key: EventKey
    counter: CounterLook
    measure: LedgerMeasure
    correction: Correction | None
    suspects: tuple[KeySuspect, ...]
    at: float


@dataclass
class LedgerWork:
    """What the ledger path found in one pass (all in memory: suspects hold attendee keys)."""

    corrections: list[Correction] = field(default_factory=list)
    suspects: list[KeySuspect] = field(default_factory=list)
    repairs: list[KeyRepair] = field(default_factory=list)

    @property
    def confirmed(self) -> int:
        """What the brake counts: counter repairs and key repairs alike."""
        return len(self.corrections) + len(self.repairs)


AuditCorrection = Callable[[Correction, CorrectionOutcome], None]
Wait = Callable[[float], None]


class LedgerPath:
    def __init__(
        self,
        store: LedgerStore,
        table: CounterTable,
        audit: KeyAuditSink,
        clock: Callable[[], float],
        now: Callable[[], str],
    ) -> None:
        self.store = store
        self._table = table
        self._audit = audit
        self._clock = clock
        self._now = now
        self._log = get_logger("reconciler.reconcile.ledger")

    # -- sweep (worker threads) ----------------------------------------------------------------

    def measure(self, key: EventKey) -> tuple[CounterLook, Correction | None, LedgerMeasure]:
        """Counter, present entries, counter again, until both reads agree (or give up)."""
        look, correction, measure = CounterLook.IN_FLUX, None, LedgerMeasure(key, None, 0, None)
        for _ in range(MEASURE_ATTEMPTS):
            before = self._table.read_counter(key)
            if before is None:
                return CounterLook.VANISHED, None, LedgerMeasure(key, None, 0, None)
            present = self.store.count_present(key.slug)
            measure = LedgerMeasure(key, before, present, self._table.read_counter(key))
            look, correction = judge_measure(measure)
            if look is not CounterLook.IN_FLUX:
                break
        return look, correction, measure

    def look(self, key: EventKey) -> LedgerLook:
        look, correction, measure = self.measure(key)
        suspects: tuple[KeySuspect, ...] = ()
        at = self._clock()
        if look is not CounterLook.VANISHED:
            # Entries first: an item counted between the two listings shows up as a missing
            # entry whose entry then changes, which the second look refuses to repair.
            entries = dict(self.store.entries(key.slug))
            at = self._clock()
            suspects = tuple(key_suspects(key, self.store.attendees(key.slug), entries, at))
        return LedgerLook(key, look, measure, correction, suspects, at)

    def first_look(self, summary: PassSummary, look: LedgerLook, work: LedgerWork) -> None:
        summary.ledger_events += 1
        slug = look.key.slug
        if look.counter is CounterLook.IN_SYNC:
            summary.in_sync += 1
        elif look.counter is CounterLook.VANISHED:
            summary.vanished += 1
        elif look.counter is CounterLook.UNSUPPORTED:
            summary.unsupported += 1
            self._log.warning("counter_version_unreadable", slug=slug)
        elif look.counter is CounterLook.IN_FLUX:
            summary.in_flux += 1
            self._log.info("counter_in_flux", slug=slug, mode="ledger")
        elif look.correction is not None:
            stored = look.correction.stored
            observation = Observation(look.key, stored, look.measure.present, look.at)
            summary.tally_first_look(FirstLook.SUSPECT, observation)
            work.corrections.append(look.correction)
            self._log.info(
                "counter_off_ledger",
                slug=slug,
                stored=stored.value,
                present=look.measure.present,
                version=stored.version,
            )
        summary.key_suspects += len(look.suspects)
        work.suspects.extend(look.suspects)
        if look.suspects:
            self._log.info("ledger_key_suspects", slug=slug, suspects=len(look.suspects))

    # -- recheck -------------------------------------------------------------------------------

    def recheck(self, summary: PassSummary, work: LedgerWork, settle: float, wait: Wait) -> None:
        listed: tuple[str, frozenset[str]] | None = None
        for suspect in work.suspects:
            wait(suspect.at + settle)
            slug = suspect.event.slug
            entry = self.store.read_entry(slug, suspect.item)
            if suspect.attendee is not None:
                exists = self.store.attendee_exists(suspect.attendee)
            else:
                # An extra entry has no key to read by: the event's attendees are listed
                # again (once per event), after its entry was read.
                if listed is None or listed[0] != slug:
                    listed = (slug, frozenset(a.item for a in self.store.attendees(slug)))
                exists = suspect.item in listed[1]
            repair = confirm_key(suspect, entry, exists)
            if repair is None:
                summary.keys_in_flux += 1
                continue
            work.repairs.append(repair)
        summary.key_repairs_confirmed = len(work.repairs)
        work.suspects.clear()

    # -- apply ---------------------------------------------------------------------------------

    def apply(
        self,
        summary: PassSummary,
        work: LedgerWork,
        plan: Plan,
        control: PassControl,
        *,
        audit: AuditCorrection,
        run_id: str,
    ) -> None:
        for correction in work.corrections:
            if plan.hold is not None:
                summary.planned += 1
                audit(correction, plan.outcome)
                continue
            self._repair_counter(summary, correction, control, audit)
        for repair in work.repairs:
            if plan.hold is not None:
                summary.key_planned += 1
                self._audit_key(run_id, repair, plan.outcome)
                continue
            control.stop_if_asked()
            control.before_write()
            try:
                self.store.repair_key(repair)
            except ConflictError:
                summary.key_conflicts += 1
                self._audit_key(run_id, repair, CorrectionOutcome.CONFLICT)
                continue
            if repair.direction is KeyDirection.MISSING:
                summary.key_repairs_missing += 1
            else:
                summary.key_repairs_extra += 1
            self._audit_key(run_id, repair, CorrectionOutcome.APPLIED)

    def _repair_counter(
        self,
        summary: PassSummary,
        first: Correction,
        control: PassControl,
        audit: AuditCorrection,
    ) -> None:
        for _ in range(WRITE_ATTEMPTS):
            control.stop_if_asked()
            look, fresh, _ = self.measure(first.key)
            if look is not CounterLook.GAP or fresh is None:
                # Repaired meanwhile, or too hot right now: the next pass measures again.
                summary.in_flux += 1
                self._log.info("counter_in_flux", slug=first.key.slug, mode="ledger")
                return
            control.before_write()
            try:
                if fresh.delta is None:
                    self._table.write_correction(fresh)  # not a number: SET, as classic
                else:
                    self.store.add_to_counter(fresh)
            except ConflictError:
                continue
            summary.corrected += 1
            summary.counter_repairs += 1
            if fresh.reason is Reason.MISSING:
                summary.initialized += 1
            audit(fresh, CorrectionOutcome.APPLIED)
            return
        summary.conflicts += 1
        audit(first, CorrectionOutcome.CONFLICT)

    def _audit_key(self, run_id: str, repair: KeyRepair, outcome: CorrectionOutcome) -> None:
        self._audit.write_key_repair(key_repair_record(run_id, repair, outcome, self._now()))
