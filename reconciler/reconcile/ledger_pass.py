"""The ledger path of a pass: events whose ledger is backfilled are repaired exactly through it.

The imperative shell around :mod:`reconciler.reconcile.ledger_core`, called by the pass
(:class:`reconciler.reconcile.reconciler.Reconciler`) in its three phases:

- sweep (worker threads): measure the counter against the ledger and count the attendee
  items; only when the counts disagree (or the counter is off) list the event's entries and
  attendee keys and keep the items that disagree as suspects, at most ``max_key_suspects``
  per pass (each holds an attendee's key in memory; the rest are deferred and counted);
- recheck: a settle window after its event's first look, each suspect is looked at again;
- apply: a counter gap is measured again and written at once (a count takes milliseconds, so
  a hot event still has quiet moments), each confirmed key repair is one transaction.

Every write honours what a classic write honours: ``should_stop``, ``before_write`` (the
lease), dry run, the lag gate's pause, the brake (which counts these repairs) and the audit,
written ahead (an intent before the write, the outcome after it). A write refused by its
condition is read back before it is called a conflict: botocore may have retried a write
whose first attempt landed and whose response was lost.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime

from reconciler.kernel.errors import ConflictError
from reconciler.kernel.logs import get_logger
from reconciler.kernel.model import EventKey
from reconciler.reconcile.audit import (
    INTENT_GRACE,
    AuditSink,
    IntentLog,
    KeyAuditSink,
    KeyRepairRecord,
    audit_record,
    intent_record,
    key_intent_record,
    key_repair_record,
    resolve_key_intent,
    settle_each,
)
from reconciler.reconcile.core import (
    Correction,
    CorrectionOutcome,
    FirstLook,
    Observation,
    Plan,
    Reason,
    written,
)
from reconciler.reconcile.ledger_core import (
    CounterLook,
    KeyDirection,
    KeyRepair,
    KeySuspect,
    LedgerMeasure,
    confirm_key,
    judge_measure,
    key_repair_written,
    key_suspects,
    needs_key_listing,
)
from reconciler.reconcile.pass_control import PassControl
from reconciler.reconcile.ports import CounterTable, LedgerStore
from reconciler.reconcile.progress import NO_PROGRESS, PassProgress
from reconciler.reconcile.settings import DEFAULT_MAX_KEY_SUSPECTS
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
    listed: bool = True
    """Whether the event's keys were listed (see :func:`needs_key_listing`)."""
    unheld: int = 0
    """Suspects found beyond the pass's cap, counted but not kept."""


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


Wait = Callable[[float], None]


class LedgerPath:
    def __init__(
        self,
        store: LedgerStore,
        table: CounterTable,
        *,
        audit: AuditSink,
        key_audit: KeyAuditSink,
        clock: Callable[[], float],
        now: Callable[[], str],
        max_key_suspects: int = DEFAULT_MAX_KEY_SUSPECTS,
    ) -> None:
        self.store = store
        self._table = table
        self._audit = audit
        self._key_audit = key_audit
        self._clock = clock
        self._now = now
        self._max_key_suspects = max_key_suspects
        self._log = get_logger("reconciler.reconcile.ledger")

    # -- intents left open by a killed run -----------------------------------------------------

    def resolve_intents(
        self, intents: IntentLog, run_id: str, now: datetime, stop_if_asked: Callable[[], None]
    ) -> int:
        """Key repairs whose outcome line is missing, settled by reading their entry back."""
        time = now.astimezone(UTC).isoformat(timespec="milliseconds")

        def resolve(intent: KeyRepairRecord) -> None:
            entry = self.store.read_entry(intent.slug, intent.item)
            self._key_audit.write_key_repair(resolve_key_intent(intent, entry, run_id, time))

        pending = intents.pending_key_intents(now - INTENT_GRACE)
        return settle_each(pending, resolve, stop_if_asked)

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
        at = self._clock()
        if look is CounterLook.VANISHED:
            return LedgerLook(key, look, measure, correction, (), at, listed=False)
        attendees = self._table.count_attendees(key.slug)
        if not needs_key_listing(look, measure.present, attendees):
            return LedgerLook(key, look, measure, correction, (), at, listed=False)
        # Entries first: an item counted between the two listings shows up as a missing entry
        # whose entry then changes, which the second look refuses to repair. The entries of
        # one event (hashes, no personal data) are held while its attendees stream past.
        entries = dict(self.store.entries(key.slug))
        at = self._clock()
        held: list[KeySuspect] = []
        unheld = 0
        for suspect in key_suspects(key, self.store.attendees(key.slug), entries, at):
            if len(held) < self._max_key_suspects:
                held.append(suspect)
            else:
                unheld += 1
        return LedgerLook(key, look, measure, correction, tuple(held), at, unheld=unheld)

    def first_look(self, summary: PassSummary, look: LedgerLook, work: LedgerWork) -> None:
        summary.ledger_events += 1
        slug = look.key.slug
        if look.counter is CounterLook.IN_SYNC:
            summary.in_sync += 1
        elif look.counter is CounterLook.VANISHED:
            summary.vanished += 1
        elif look.counter is CounterLook.IN_FLUX:
            summary.in_flux += 1
            self._log.info("counter_in_flux", slug=slug, mode="ledger")
        elif look.correction is not None:
            stored = look.correction.stored
            observation = Observation(look.key, stored, look.measure.present, look.at)
            summary.tally_first_look(FirstLook.SUSPECT, observation)
            work.corrections.append(look.correction)
            if stored.version_unreadable:
                self._log.warning("counter_version_unreadable", slug=slug, mode="ledger")
            self._log.info(
                "counter_off_ledger",
                slug=slug,
                stored=stored.value,
                present=look.measure.present,
                version=stored.version,
                reason=look.correction.reason.value,
            )
        if not look.listed and look.counter is not CounterLook.VANISHED:
            summary.key_listings_skipped += 1
        self._hold_suspects(summary, look, work)

    def _hold_suspects(self, summary: PassSummary, look: LedgerLook, work: LedgerWork) -> None:
        """At most ``max_key_suspects`` per pass; the rest wait for a later pass, which finds
        them again if they still disagree (a repaired key no longer does, so a backlog drains
        by up to the cap per pass)."""
        room = max(0, self._max_key_suspects - len(work.suspects))
        held = look.suspects[:room]
        deferred = len(look.suspects) - len(held) + look.unheld
        summary.key_suspects += len(look.suspects) + look.unheld
        work.suspects.extend(held)
        if held:
            self._log.info("ledger_key_suspects", slug=look.key.slug, suspects=len(held))
        if deferred:
            summary.key_suspects_deferred += deferred
            self._log.warning(
                "ledger_key_suspects_deferred",
                slug=look.key.slug,
                deferred=deferred,
                max_key_suspects=self._max_key_suspects,
            )

    # -- recheck -------------------------------------------------------------------------------

    def recheck(
        self,
        summary: PassSummary,
        work: LedgerWork,
        settle: float,
        wait: Wait,
        rechecked: Callable[[], None] = lambda: None,
    ) -> None:
        listed: tuple[str, frozenset[str]] | None = None
        for suspect in work.suspects:
            wait(suspect.at + settle)
            rechecked()
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
        run_id: str,
        *,
        progress: PassProgress = NO_PROGRESS,
    ) -> None:
        for correction in work.corrections:
            if plan.hold is not None:
                summary.planned += 1
                self._audit_counter(run_id, correction, plan.outcome)
            else:
                self._repair_counter(summary, correction, control, run_id)
            progress.correction_done()
        for repair in work.repairs:
            if plan.hold is not None:
                summary.key_planned += 1
                self._audit_key(run_id, repair, plan.outcome)
            else:
                self._repair_key(summary, repair, control, run_id)
            progress.correction_done()

    def _repair_key(
        self, summary: PassSummary, repair: KeyRepair, control: PassControl, run_id: str
    ) -> None:
        control.stop_if_asked()
        control.before_write()
        self._key_audit.write_key_repair(key_intent_record(run_id, repair, self._now()))
        try:
            self.store.repair_key(repair)
        except ConflictError:
            read = self.store.read_entry(repair.event.slug, repair.item)
            if not key_repair_written(repair.entry, read):
                summary.key_conflicts += 1
                self._audit_key(run_id, repair, CorrectionOutcome.CONFLICT)
                return
            summary.lost_responses += 1
            self._log.info("ledger_key_repair_read_back", slug=repair.event.slug)
        if repair.direction is KeyDirection.MISSING:
            summary.key_repairs_missing += 1
        else:
            summary.key_repairs_extra += 1
        self._audit_key(run_id, repair, CorrectionOutcome.APPLIED)

    def _repair_counter(
        self, summary: PassSummary, first: Correction, control: PassControl, run_id: str
    ) -> None:
        refused: Correction | None = None
        for _ in range(WRITE_ATTEMPTS):
            control.stop_if_asked()
            look, fresh, _ = self.measure(first.key)
            if look is not CounterLook.GAP or fresh is None:
                if refused is not None:
                    break  # its intent needs an outcome: the refusal is the conflict
                # Repaired meanwhile, or too hot right now: the next pass measures again.
                summary.in_flux += 1
                self._log.info("counter_in_flux", slug=first.key.slug, mode="ledger")
                return
            control.before_write()
            self._audit.write(intent_record(run_id, fresh, self._now()))
            try:
                self._write_counter(fresh)
            except ConflictError:
                if not written(fresh, self._table.read_counter(fresh.key)):
                    refused = fresh
                    continue
                summary.lost_responses += 1
                self._log.info("counter_correction_read_back", slug=fresh.key.slug, mode="ledger")
            summary.corrected += 1
            summary.counter_repairs += 1
            if fresh.reason is Reason.MISSING:
                summary.initialized += 1
            if fresh.stored.version_unreadable:
                summary.versions_replaced += 1
            self._audit_counter(run_id, fresh, CorrectionOutcome.APPLIED)
            return
        summary.conflicts += 1
        self._audit_counter(run_id, refused or first, CorrectionOutcome.CONFLICT)

    def _write_counter(self, correction: Correction) -> None:
        """An ``ADD`` of the gap keeps a number's type; a counter or version that is no number
        has nothing to add to, so it is replaced by the classic ``SET``, conditioned on the
        exact raw values read."""
        if correction.delta is None or correction.stored.version_unreadable:
            self._table.write_correction(correction)
        else:
            self.store.add_to_counter(correction)

    def _audit_counter(
        self, run_id: str, correction: Correction, outcome: CorrectionOutcome
    ) -> None:
        self._audit.write(audit_record(run_id, correction, outcome, self._now()))

    def _audit_key(self, run_id: str, repair: KeyRepair, outcome: CorrectionOutcome) -> None:
        self._key_audit.write_key_repair(key_repair_record(run_id, repair, outcome, self._now()))
