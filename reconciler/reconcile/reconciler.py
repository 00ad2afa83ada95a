"""One reconciliation pass: sweep, settle, recheck, brake, apply.

The imperative shell around :mod:`reconciler.reconcile.core`. It owns ordering and time (the
clock and sleep are injected, so tests drive the settle window and can run the live handler
while the pass waits) and talks to the table only through the ports. The classic path's
second looks and writes run in :mod:`reconciler.reconcile.classic_phases`, the ledger path's
in :mod:`reconciler.reconcile.ledger_pass`, a snapshot's first looks in
:mod:`reconciler.reconcile.export_sweep`.

``run_pass`` never raises a :class:`ReconcilerError`: a failed pass is a summary with
``failed=True`` and the error, so ``run`` still prints its JSON and ``serve`` its metrics.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from datetime import UTC, datetime

import structlog

from reconciler.kernel.errors import LeaseLostError, ReconcilerError
from reconciler.kernel.logs import get_logger
from reconciler.kernel.model import EventKey
from reconciler.reconcile.audit import (
    AuditSink,
    IntentLog,
    KeyAuditSink,
    audit_record,
    intent_record,
    resolve_pending,
)
from reconciler.reconcile.classic import (
    tally_classic_look,
)
from reconciler.reconcile.classic_phases import recheck_suspects, write_confirmed
from reconciler.reconcile.core import (
    Correction,
    CorrectionOutcome,
    Observation,
    WriteMode,
    plan_corrections,
)
from reconciler.reconcile.export_sweep import ExportSweep
from reconciler.reconcile.fanout import fan_out
from reconciler.reconcile.ledger_pass import LedgerPath
from reconciler.reconcile.ledger_tally import LedgerLook
from reconciler.reconcile.pass_control import (
    PassControl,
    PassOptions,
    PassStoppedError,
    new_run_id,
    utc_now,
    wait_until,
)
from reconciler.reconcile.pass_state import PassState
from reconciler.reconcile.ports import (
    CounterTable,
    EventSource,
    LedgerStore,
    RotationStore,
    TableScan,
)
from reconciler.reconcile.progress import NO_PROGRESS, PassProgress
from reconciler.reconcile.rotation import RotatingSweep, in_sync
from reconciler.reconcile.scan_core import ScannedEvent
from reconciler.reconcile.spool import SPOOL_IN_MEMORY
from reconciler.reconcile.summary import (
    NO_EVENTS_HINT,
    IoStats,
    PassOutcome,
    PassSummary,
    StopReason,
)
from reconciler.reconcile.sweep import sweep_groups

Clock = Callable[[], float]
Sleep = Callable[[float], None]
WallClock = Callable[[], datetime]
SummaryCallback = Callable[[PassSummary], None]


class Reconciler:
    def __init__(
        self,
        *,
        events: EventSource,
        table: CounterTable,
        audit: AuditSink,
        options: PassOptions,
        clock: Clock = time.monotonic,
        sleep: Sleep = time.sleep,
        wall: WallClock = utc_now,
        on_summary: Sequence[SummaryCallback] = (),
        on_close: Sequence[Callable[[], None]] = (),
        spool_limit: int = SPOOL_IN_MEMORY,
        ledger: LedgerStore | None = None,
        key_audit: KeyAuditSink | None = None,
        intents: IntentLog | None = None,
        rotation: RotationStore | None = None,
        scan: TableScan | None = None,
        export: ExportSweep | None = None,
    ) -> None:
        self._scan = scan
        self._export = export
        self._spool_limit = spool_limit
        self._rotation = rotation if options.rotating else None
        self._intents = intents
        self._events = events
        self._table = table
        self._audit = audit
        self._options = options
        self._clock = clock
        self._sleep = sleep
        self._wall = wall
        self.on_summary: list[SummaryCallback] = list(on_summary)
        """Called with every finished summary (metrics, CloudWatch publisher...)."""
        self._on_close = list(on_close)
        self._log = get_logger("reconciler.reconcile")
        self._ledger: LedgerPath | None = None
        if ledger is not None:
            if key_audit is None:
                raise ValueError("the ledger path needs an audit sink for its key repairs")
            self._ledger = LedgerPath(
                ledger,
                table,
                audit=audit,
                key_audit=key_audit,
                clock=clock,
                now=self._now,
                max_key_suspects=options.max_key_suspects,
                concurrency=options.concurrency,
            )

    def close(self) -> None:
        for hook in self._on_close:
            hook()

    # -- the pass ------------------------------------------------------------------------------

    def run_pass(
        self,
        control: PassControl | None = None,
        run_id: str | None = None,
        progress: PassProgress = NO_PROGRESS,
    ) -> PassSummary:
        """``progress`` hears of each phase and each event, from this thread."""
        control = control or PassControl()
        run_id = run_id or new_run_id(self._wall())
        options = self._options
        summary = PassSummary(
            run_id=run_id,
            dry_run=options.dry_run,
            corrections_paused=control.corrections_paused,
            event_slug=options.event,
            shard=options.shard,
            settle_seconds=options.settle_seconds,
        )
        state = PassState(summary, control, run_id, self._spool_limit, progress)
        started = self._clock()
        io_before = self._io()
        if self._rotation is not None:
            state.rotation = RotatingSweep(
                self._events,
                self._rotation,
                options,
                wall=lambda: self._wall().timestamp(),
                spent=lambda: self._io().minus(io_before).read_units,
            )
        if self._ledger is not None:
            self._ledger.store.start_pass()
        with structlog.contextvars.bound_contextvars(run_id=run_id):
            self._log.info("pass_started", **summary.start_figures())
            try:
                self._run(state)
            except PassStoppedError:
                summary.stop = StopReason.STOPPED_EARLY
            except LeaseLostError as exc:
                summary.failed = True
                summary.error = f"lease lost: {exc}"
                summary.stop = StopReason.LEASE_LOST
            except ReconcilerError as exc:
                summary.failed = True
                summary.error = f"{type(exc).__name__}: {exc}"
            finally:
                summary.io = self._io().minus(io_before)
                summary.duration_seconds = self._clock() - started
                state.close()
            log = self._log.error if summary.failed else self._log.info
            log("pass_finished", **summary.log_figures())
            if summary.outcome is PassOutcome.EMPTY:
                self._log.warning("pass_found_no_events", check=NO_EVENTS_HINT)
        for callback in self.on_summary:
            callback(summary)
        return summary

    def _io(self) -> IoStats:
        stats = self._table.stats()
        for store in (self._ledger.store if self._ledger else None, self._rotation):
            stats = stats if store is None else stats.plus(store.stats())
        return stats

    def _run(self, state: PassState) -> None:
        self._resolve_intents(state)
        self._sweep(state)
        self._recheck(state)
        self._apply(state)

    def _resolve_intents(self, state: PassState) -> None:
        """Writes whose outcome line is missing (a run killed in between) are settled first."""
        if self._intents is not None:
            state.summary.intents_resolved = resolve_pending(
                self._intents,
                self._table.read_counter,
                self._audit,
                run_id=state.run_id,
                now=self._wall(),
                stop_if_asked=state.control.stop_if_asked,
            )
            if self._ledger is not None:
                state.summary.intents_resolved += self._ledger.resolve_intents(
                    self._intents, state.run_id, self._wall(), state.control.stop_if_asked
                )

    # -- sweep -------------------------------------------------------------------------------

    def _observe(self, key: EventKey) -> Observation | LedgerLook:
        look = self._ledger_look(key)
        return self._observe_classic(key) if look is None else look

    def _ledger_look(self, key: EventKey) -> LedgerLook | None:
        """A live first look in ledger mode; ``None`` for an event without a ledger."""
        if self._ledger is not None and self._ledger.store.backfilled(key.slug):
            return self._ledger.look(key)
        return None

    def _observe_classic(self, key: EventKey) -> Observation:
        # The event item is read BEFORE the attendees are counted: a record applied after the
        # read changes the version, and one written before the count but not yet applied will
        # be applied within the settle window, so the second look sees it either way.
        stored = self._table.read_counter(key)
        counted = 0 if stored is None else self._table.count_attendees(key.slug)
        return Observation(key, stored, counted, self._clock())

    def _sweep(self, state: PassState) -> None:
        if self._export is not None:  # first looks from a snapshot (a ledger suspect's live)
            self._export.sweep(state, lambda look: self._first_look(state, look), self._ledger_look)
            return
        summary = state.summary
        stopped = False
        choice, groups = sweep_groups(
            self._events,
            self._scan,
            self._options,
            state.control.should_stop,
            state.rotation,
            progress=state.progress,
        )
        summary.sweep = choice.mode.value

        def keys() -> Iterator[EventKey]:
            nonlocal stopped
            for group in groups:
                if state.control.should_stop():
                    stopped = True
                    return
                summary.events_checked += 1
                if group.ambiguous:
                    if state.rotation is not None:
                        state.rotation.looked(group.slug, None)
                    state.count_ambiguous(group.slug, group.keys)
                    continue
                if isinstance(group, ScannedEvent) and group.in_sync:
                    summary.in_sync += 1
                    summary.scanned_in_sync += 1
                    state.progress.event_checked()
                    continue
                yield group.keys[0]

        fan_out(
            keys(),
            self._observe,
            lambda look: self._first_look(state, look),
            limit=self._options.concurrency,
            name="reconcile-sweep",
        )
        if state.rotation is not None:
            summary.rotation = state.rotation.finish()
        if stopped:
            raise PassStoppedError

    def _first_look(self, state: PassState, observation: Observation | LedgerLook) -> None:
        state.progress.event_checked()
        if state.rotation is not None:
            state.rotation.looked(observation.key.slug, in_sync(observation))
        if isinstance(observation, LedgerLook):
            if self._ledger is not None:
                self._ledger.first_look(state.summary, observation, state.ledger)
            return
        if tally_classic_look(state.summary, observation):
            state.suspects.append(observation)

    # -- settle and recheck ------------------------------------------------------------------

    def _wait(self, state: PassState, due: float) -> None:
        wait_until(due, state.control, self._clock, self._sleep, state.progress.settling)

    def _recheck(self, state: PassState) -> None:
        summary = state.summary
        settle = self._options.settle_seconds
        state.progress.settle_started(len(state.suspects) + len(state.ledger.suspects), settle)
        recheck_suspects(
            state,
            self._observe_classic,
            lambda due: self._wait(state, due),
            settle,
            self._options.concurrency,
        )
        summary.confirmed = len(state.confirmed) + len(state.ledger.corrections)
        if self._ledger is not None:
            self._ledger.recheck(
                summary,
                state.ledger,
                self._options.settle_seconds,
                lambda due: self._wait(state, due),
                state.progress.suspect_rechecked,
            )

    # -- brake and apply ---------------------------------------------------------------------

    def _now(self) -> str:
        return self._wall().astimezone(UTC).isoformat(timespec="milliseconds")

    def _apply(self, state: PassState) -> None:
        summary = state.summary
        mode = WriteMode(dry_run=self._options.dry_run, paused=state.control.corrections_paused)
        confirmed = len(state.confirmed) + state.ledger.confirmed
        plan = plan_corrections(confirmed, summary.events_checked, self._options.brake, mode)
        summary.brake = plan.brake
        summary.hold = plan.hold
        if plan.brake.tripped:
            self._log.error("brake_tripped", reason=plan.brake.reason, planned=confirmed)
        elif plan.brake.overridden:
            self._log.warning("brake_overridden", reason=plan.brake.reason)
        state.progress.writes_started(confirmed, plan.hold.value if plan.hold is not None else None)
        if plan.hold is not None:
            for correction in state.confirmed:
                summary.planned += 1
                self._audit_outcome(state, correction, plan.outcome)
                state.progress.correction_done()
        else:
            write_confirmed(
                state,
                self._table,
                lambda c: self._audit.write(intent_record(state.run_id, c, self._now())),
                lambda c, outcome: self._audit_outcome(state, c, outcome),
                self._options.concurrency,
            )
        if self._ledger is not None:
            self._ledger.apply(
                summary, state.ledger, plan, state.control, state.run_id, progress=state.progress
            )

    def _audit_outcome(
        self, state: PassState, correction: Correction, outcome: CorrectionOutcome
    ) -> None:
        self._audit.write(audit_record(state.run_id, correction, outcome, self._now()))


__all__ = ["Clock", "PassControl", "PassOptions", "Reconciler", "new_run_id"]
