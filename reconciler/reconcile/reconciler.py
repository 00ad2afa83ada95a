"""One reconciliation pass: sweep, settle, recheck, brake, apply.

The imperative shell around :mod:`reconciler.reconcile.core`. It owns ordering and time (the
clock and sleep are injected, so tests drive the settle window and can run the live handler
while the pass waits) and talks to the table only through the ports.

``run_pass`` never raises a :class:`ReconcilerError`: a failed pass is a summary with
``failed=True`` and the error, so ``run`` can still print its JSON line and ``serve`` can
still export metrics.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime

import structlog

from reconciler.kernel.errors import ConflictError, LeaseLostError, ReconcilerError
from reconciler.kernel.logs import get_logger
from reconciler.kernel.model import EventKey
from reconciler.reconcile.audit import AuditSink, audit_record
from reconciler.reconcile.core import (
    BrakePolicy,
    Correction,
    CorrectionOutcome,
    FirstLook,
    Observation,
    Reason,
    Recheck,
    Shard,
    WriteMode,
    confirm,
    first_look,
    in_shard,
    plan_corrections,
    reason_for,
    recheck_due,
)
from reconciler.reconcile.ports import CounterTable, EventGroup, EventSource
from reconciler.reconcile.settings import RunSettings
from reconciler.reconcile.spool import SPOOL_IN_MEMORY, Spool, correction_spool, observation_spool
from reconciler.reconcile.summary import PassSummary, StopReason

Clock = Callable[[], float]
Sleep = Callable[[float], None]
WallClock = Callable[[], datetime]
SummaryCallback = Callable[[PassSummary], None]

SLEEP_SLICE_SECONDS = 1.0
"""The settle wait sleeps in slices so ``should_stop`` is honoured within a second."""


def _never() -> bool:
    return False


def _no_check() -> None:
    return None


@dataclass(frozen=True)
class PassControl:
    """How a caller (``serve``) steers a pass it started."""

    should_stop: Callable[[], bool] = _never
    """Checked between events (sweep, recheck, writes): the event in progress is finished,
    then the pass returns early with ``stop=StopReason.STOPPED_EARLY``."""
    before_write: Callable[[], None] = _no_check
    """Called immediately before every conditional write; raising :class:`LeaseLostError`
    aborts the pass with no further writes (``stop=StopReason.LEASE_LOST``, failed)."""
    corrections_paused: bool = False
    """Lag gate: measure and report, write nothing (confirmed corrections count as planned)."""


@dataclass(frozen=True, slots=True)
class PassOptions:
    """The part of :class:`RunSettings` the pass itself needs."""

    settle_seconds: float
    concurrency: int
    brake: BrakePolicy
    dry_run: bool = False
    event: str | None = None
    shard: Shard | None = None

    @classmethod
    def from_settings(cls, settings: RunSettings) -> PassOptions:
        return cls(
            settle_seconds=settings.settle_seconds,
            concurrency=settings.concurrency,
            brake=settings.brake,
            dry_run=settings.dry_run,
            event=settings.event,
            shard=settings.shard,
        )


class EventNotFoundError(ReconcilerError):
    """``--event`` names a slug that has no event item."""


class _PassStoppedError(Exception):
    """Internal: ``should_stop`` said so."""


@dataclass
class _PassState:
    summary: PassSummary
    control: PassControl
    run_id: str
    spool_limit: int = SPOOL_IN_MEMORY
    suspects: Spool[Observation] = field(init=False)
    confirmed: Spool[Correction] = field(init=False)

    def __post_init__(self) -> None:
        self.suspects = observation_spool(self.spool_limit)
        self.confirmed = correction_spool(self.spool_limit)

    def close(self) -> None:
        self.suspects.close()
        self.confirmed.close()


def new_run_id(now: datetime) -> str:
    """Sortable by time, unique across replicas and shards."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def utc_now() -> datetime:
    return datetime.now(UTC)


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
    ) -> None:
        self._spool_limit = spool_limit
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

    def close(self) -> None:
        for hook in self._on_close:
            hook()

    # -- the pass ------------------------------------------------------------------------------

    def run_pass(
        self, control: PassControl | None = None, run_id: str | None = None
    ) -> PassSummary:
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
        state = _PassState(summary, control, run_id, self._spool_limit)
        started = self._clock()
        io_before = self._table.stats()
        with structlog.contextvars.bound_contextvars(run_id=run_id):
            self._log.info(
                "pass_started",
                dry_run=options.dry_run,
                corrections_paused=control.corrections_paused,
                settle_seconds=options.settle_seconds,
                event_slug=options.event,
                shard=str(options.shard) if options.shard else None,
            )
            try:
                self._run(state)
            except _PassStoppedError:
                summary.stop = StopReason.STOPPED_EARLY
            except LeaseLostError as exc:
                summary.failed = True
                summary.error = f"lease lost: {exc}"
                summary.stop = StopReason.LEASE_LOST
            except ReconcilerError as exc:
                summary.failed = True
                summary.error = f"{type(exc).__name__}: {exc}"
            finally:
                summary.io = self._table.stats().minus(io_before)
                summary.duration_seconds = self._clock() - started
                state.close()
            log = self._log.error if summary.failed else self._log.info
            log("pass_finished", summary=summary.to_dict())
        for callback in self.on_summary:
            callback(summary)
        return summary

    def _run(self, state: _PassState) -> None:
        self._sweep(state)
        self._recheck(state)
        self._apply(state)

    # -- sweep -------------------------------------------------------------------------------

    def _groups(self) -> Iterator[EventGroup]:
        options = self._options
        if options.event is not None:
            group = self._events.event(options.event)
            if group is None:
                raise EventNotFoundError(f"no event item for slug {options.event!r}")
            yield group
            return
        for group in self._events.events():
            if in_shard(group.slug, options.shard):
                yield group

    def _observe(self, key: EventKey) -> Observation:
        # The event item is read BEFORE the attendees are counted: a record applied after the
        # read changes the version, and one written before the count but not yet applied will
        # be applied within the settle window, so the second look sees it either way.
        stored = self._table.read_counter(key)
        counted = 0 if stored is None else self._table.count_attendees(key.slug)
        return Observation(key, stored, counted, self._clock())

    def _sweep(self, state: _PassState) -> None:
        summary = state.summary
        limit = max(1, self._options.concurrency)
        failure: BaseException | None = None
        stopped = False
        with ThreadPoolExecutor(max_workers=limit, thread_name_prefix="reconcile") as pool:
            pending: set[Future[Observation]] = set()

            def drain(block_until_below: int) -> None:
                nonlocal pending, failure
                while len(pending) > block_until_below:
                    done, pending = wait(pending, return_when=FIRST_COMPLETED)
                    for future in done:
                        error = future.exception()
                        if error is not None:
                            failure = failure or error
                        else:
                            self._first_look(state, future.result())

            groups = self._groups()
            try:
                for group in groups:
                    if failure is not None:
                        break
                    if state.control.should_stop():
                        stopped = True
                        break
                    summary.events_checked += 1
                    if group.ambiguous:
                        summary.ambiguous += 1
                        self._log.warning(
                            "ambiguous_event",
                            slug=group.slug,
                            candidates=[f"{k.partition}/{k.sort_key}" for k in group.keys],
                        )
                        continue
                    # A bounded queue: never more than two events per worker waiting.
                    drain(2 * limit - 1)
                    pending.add(pool.submit(self._observe, group.keys[0]))
            except BaseException:
                for future in pending:
                    future.cancel()
                raise
            drain(0)
        if failure is not None:
            raise failure
        if stopped:
            raise _PassStoppedError

    def _first_look(self, state: _PassState, observation: Observation) -> None:
        look = first_look(observation)
        state.summary.tally_first_look(look, observation)
        key, stored = observation.key, observation.stored
        if look is FirstLook.UNSUPPORTED:
            self._log.warning(
                "counter_version_unreadable",
                slug=key.slug,
                partition=key.partition,
                sort_key=key.sort_key,
            )
        if look is not FirstLook.SUSPECT or stored is None:
            return
        state.suspects.append(observation)
        reason = reason_for(stored, observation.counted)
        self._log.info(
            "counter_suspect",
            slug=key.slug,
            reason=reason.value if reason else None,
            stored=stored.value,
            counted=observation.counted,
            version=stored.version,
        )

    # -- settle and recheck ------------------------------------------------------------------

    def _wait_until(self, due: float, control: PassControl) -> None:
        while True:
            if control.should_stop():
                raise _PassStoppedError
            remaining = due - self._clock()
            if remaining <= 0:
                return
            self._sleep(min(remaining, SLEEP_SLICE_SECONDS))

    def _recheck(self, state: _PassState) -> None:
        summary = state.summary
        # In the order the first looks were taken (nearly the order of ``at``); each recheck
        # still waits for its own due time, so the order only affects how long the pass waits.
        for first in state.suspects:
            self._wait_until(recheck_due(first, self._options.settle_seconds), state.control)
            second = self._observe(first.key)
            verdict, correction = confirm(first, second)
            if verdict is Recheck.IN_FLUX or correction is None:
                summary.in_flux += 1
                self._log.info("counter_in_flux", slug=first.key.slug)
                continue
            state.confirmed.append(correction)
        summary.confirmed = len(state.confirmed)

    # -- brake and apply ---------------------------------------------------------------------

    def _now(self) -> str:
        return self._wall().astimezone(UTC).isoformat(timespec="milliseconds")

    def _apply(self, state: _PassState) -> None:
        summary = state.summary
        mode = WriteMode(dry_run=self._options.dry_run, paused=state.control.corrections_paused)
        plan = plan_corrections(
            len(state.confirmed), summary.events_checked, self._options.brake, mode
        )
        summary.brake = plan.brake
        summary.hold = plan.hold
        if plan.brake.tripped:
            self._log.error("brake_tripped", reason=plan.brake.reason, planned=summary.confirmed)
        elif plan.brake.overridden:
            self._log.warning("brake_overridden", reason=plan.brake.reason)
        for correction in state.confirmed:
            if plan.hold is not None:
                summary.planned += 1
                self._audit_outcome(state, correction, plan.outcome)
                continue
            if state.control.should_stop():
                raise _PassStoppedError
            state.control.before_write()
            try:
                self._table.write_correction(correction)
            except ConflictError:
                summary.conflicts += 1
                self._audit_outcome(state, correction, CorrectionOutcome.CONFLICT)
                continue
            summary.corrected += 1
            if correction.reason is Reason.MISSING:
                summary.initialized += 1
            self._audit_outcome(state, correction, plan.outcome)

    def _audit_outcome(
        self, state: _PassState, correction: Correction, outcome: CorrectionOutcome
    ) -> None:
        self._audit.write(audit_record(state.run_id, correction, outcome, self._now()))


__all__ = [
    "EventNotFoundError",
    "PassControl",
    "PassOptions",
    "Reconciler",
    "new_run_id",
]
