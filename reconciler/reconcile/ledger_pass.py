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

Recheck and apply run ``--concurrency`` events at once (:func:`fan_out`, so through the same
read-rate limiter as every other read), but one event's second looks, and one event's writes,
run one after another in one worker: its counter repair and its key repairs all write its
counter item, and side by side they would refuse or cancel each other. Workers hand back
values; :mod:`reconciler.reconcile.ledger_tally` counts them in the pass's own thread.

Every write honours what a classic write honours: ``should_stop``, ``before_write`` (the
lease), dry run, the lag gate's pause, the brake (which counts these repairs) and the audit,
written ahead (an intent before the write, the outcome after it). A write refused by its
condition is read back before it is called a conflict: botocore may have retried a write
whose first attempt landed and whose response was lost.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from datetime import UTC, datetime

from reconciler.kernel.errors import ConflictError
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
from reconciler.reconcile.classic import WriteResult, write_correction
from reconciler.reconcile.core import Correction, CorrectionOutcome, Plan
from reconciler.reconcile.fanout import fan_out
from reconciler.reconcile.ledger_core import (
    CounterLook,
    KeyRepair,
    KeySuspect,
    LedgerMeasure,
    confirm_key,
    judge_measure,
    key_repair_written,
    key_suspects,
    needs_key_listing,
)
from reconciler.reconcile.ledger_tally import (
    CounterRepaired,
    EventApplied,
    EventRepairs,
    KeysRechecked,
    LedgerLook,
    LedgerWork,
    tally_counter_repair,
    tally_key_repair,
    tally_ledger_look,
    tally_rechecked,
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
        concurrency: int = 1,
    ) -> None:
        self.store = store
        self._table = table
        self._audit = audit
        self._key_audit = key_audit
        self._clock = clock
        self._now = now
        self._max_key_suspects = max_key_suspects
        self._concurrency = concurrency

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
        tally_ledger_look(summary, look, work, self._max_key_suspects)

    # -- recheck -------------------------------------------------------------------------------

    def recheck(
        self,
        summary: PassSummary,
        work: LedgerWork,
        settle: float,
        wait: Wait,
        rechecked: Callable[[], None] = lambda: None,
    ) -> None:
        """The events' second looks side by side; an event's own suspects one after another."""

        def tally(result: KeysRechecked) -> None:
            tally_rechecked(summary, work, result)
            for _ in range(len(result.repairs) + result.in_flux):
                rechecked()

        def due() -> Iterator[tuple[KeySuspect, ...]]:
            # The wait happens here, in the pass's own thread, as the classic path's does.
            for suspects in work.suspects:
                wait(max(suspect.at for suspect in suspects) + settle)
                yield suspects

        fan_out(
            due(),
            self._second_looks,
            tally,
            limit=self._concurrency,
            name="reconcile-ledger-recheck",
        )
        work.suspects.clear()

    def _second_looks(self, suspects: tuple[KeySuspect, ...]) -> KeysRechecked:
        event = suspects[0].event
        listed: frozenset[str] | None = None
        repairs: list[KeyRepair] = []
        for suspect in suspects:
            entry = self.store.read_entry(event.slug, suspect.item)
            if suspect.attendee is not None:
                exists = self.store.attendee_exists(suspect.attendee)
            else:
                # An extra entry has no key to read by: the event's attendees are listed
                # again (once per event), after its entry was read.
                if listed is None:
                    listed = frozenset(a.item for a in self.store.attendees(event.slug))
                exists = suspect.item in listed
            repair = confirm_key(suspect, entry, exists)
            if repair is not None:
                repairs.append(repair)
        return KeysRechecked(event, tuple(repairs), len(suspects) - len(repairs))

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
        """The events' writes side by side; an event's own writes one after another."""
        if plan.hold is not None:
            for event in work.events():
                if event.correction is not None:
                    summary.planned += 1
                    self._audit_counter(run_id, event.correction, plan.outcome)
                    progress.correction_done()
                for repair in event.repairs:
                    summary.key_planned += 1
                    self._audit_key(run_id, repair, plan.outcome)
                    progress.correction_done()
            return

        def tally(applied: EventApplied) -> None:
            if applied.counter is not None:
                outcome = tally_counter_repair(summary, applied.counter)
                if outcome is not None:
                    self._audit_counter(run_id, applied.counter.correction, outcome)
                progress.correction_done()
            for repair, result in applied.keys:
                self._audit_key(run_id, repair, tally_key_repair(summary, repair, result))
                progress.correction_done()

        fan_out(
            work.events(),
            lambda event: self._repair_event(event, control, run_id),
            tally,
            limit=self._concurrency,
            name="reconcile-ledger-write",
            error_of=lambda applied: applied.error,
        )

    def _repair_event(self, event: EventRepairs, control: PassControl, run_id: str) -> EventApplied:
        """In a worker thread: touches the tables, the control and the intent lines only."""
        counter: CounterRepaired | None = None
        keys: list[tuple[KeyRepair, WriteResult]] = []
        try:
            if event.correction is not None:
                counter = self._repair_counter(event.correction, control, run_id)
            for repair in event.repairs:
                keys.append((repair, self._repair_key(repair, control, run_id)))
        except Exception as exc:  # noqa: BLE001 - raised by fan_out once what was done is counted
            return EventApplied(event.key, counter, tuple(keys), exc)
        return EventApplied(event.key, counter, tuple(keys))

    def _repair_key(self, repair: KeyRepair, control: PassControl, run_id: str) -> WriteResult:
        control.stop_if_asked()
        control.before_write()
        self._key_audit.write_key_repair(key_intent_record(run_id, repair, self._now()))
        try:
            self.store.repair_key(repair)
        except ConflictError:
            read = self.store.read_entry(repair.event.slug, repair.item)
            landed = key_repair_written(repair.entry, read)
            return WriteResult.READ_BACK if landed else WriteResult.REFUSED
        return WriteResult.WRITTEN

    def _repair_counter(
        self, first: Correction, control: PassControl, run_id: str
    ) -> CounterRepaired:
        refused: Correction | None = None
        for _ in range(WRITE_ATTEMPTS):
            control.stop_if_asked()
            look, fresh, _ = self.measure(first.key)
            if look is not CounterLook.GAP or fresh is None:
                if refused is not None:
                    break  # its intent needs an outcome: the refusal is the conflict
                return CounterRepaired(first, None)
            result = write_correction(
                self._table,
                control,
                lambda c: self._audit.write(intent_record(run_id, c, self._now())),
                fresh,
                write=self._write_counter,
            )
            if result is not WriteResult.REFUSED:
                return CounterRepaired(fresh, result)
            refused = fresh
        return CounterRepaired(refused or first, WriteResult.REFUSED)

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


__all__ = ["MEASURE_ATTEMPTS", "WRITE_ATTEMPTS", "LedgerPath"]
