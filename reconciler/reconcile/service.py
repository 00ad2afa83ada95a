"""One reconciliation pass: sweep, settle, recheck, brake, apply.

The imperative shell around :mod:`reconciler.reconcile.core`. It owns ordering and time (the
clock and sleep are injected, so tests drive the settle window and can run the live handler
while the pass waits) and talks to the table only through the ports.

``run_pass`` never raises a :class:`ReconcilerError`: a failed pass is a summary with
``failed=True`` and the error, so ``run`` can still print its JSON line and ``serve`` can
still export metrics.
"""

from __future__ import annotations

import json
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import IO, TYPE_CHECKING, Any, Generic, TypeVar

import structlog

from reconciler.deployment_spec import BATCHING_WINDOW_SECONDS
from reconciler.errors import ConflictError, LeaseLostError, ReconcilerError
from reconciler.logs import get_logger
from reconciler.model import EventKey
from reconciler.reconcile import audit as audit_module
from reconciler.reconcile.audit import (
    AuditSink,
    FanOutAuditSink,
    JsonLinesAuditSink,
    LogAuditSink,
    audit_record,
)
from reconciler.reconcile.core import (
    BrakePolicy,
    Correction,
    CounterKind,
    FirstLook,
    Observation,
    Reason,
    Recheck,
    Shard,
    StoredCounter,
    WriteMode,
    brake,
    confirm,
    drift_direction,
    first_look,
    hold_for,
    in_shard,
    reason_for,
    recheck_due,
)
from reconciler.reconcile.dynamo import DynamoReconcileTable
from reconciler.reconcile.ports import CounterTable, EventGroup, EventSource
from reconciler.reconcile.ratelimit import ReadRateLimiter
from reconciler.reconcile.settings import RunSettings
from reconciler.summary import PassSummary
from reconciler.summary_publisher import SummaryPublisher

if TYPE_CHECKING:
    from reconciler.aws import Clients

Clock = Callable[[], float]
Sleep = Callable[[float], None]
WallClock = Callable[[], datetime]
SummaryCallback = Callable[[PassSummary], None]

SLEEP_SLICE_SECONDS = 1.0
"""The settle wait sleeps in slices so ``should_stop`` is honoured within a second."""

SPOOL_IN_MEMORY = 10_000
"""Suspects (and confirmed corrections) kept in memory per pass; the rest wait in a temporary
file. Systematic drift (a handler outage) makes every event a suspect, and a pass must not
then hold every event in memory."""

T = TypeVar("T")


class SpoolError(ReconcilerError):
    """The temporary file holding a large pass's suspects could not be written."""


class _Spool(Generic[T]):
    """An append-then-iterate sequence: the first ``limit`` items in memory, the rest as JSON
    lines in an anonymous temporary file (deleted when closed)."""

    def __init__(self, limit: int, encode: Callable[[T], Any], decode: Callable[[Any], T]) -> None:
        self._limit = limit
        self._encode = encode
        self._decode = decode
        self._memory: list[T] = []
        self._file: IO[str] | None = None
        self._spilled = 0

    def append(self, item: T) -> None:
        if len(self._memory) < self._limit:
            self._memory.append(item)
            return
        try:
            if self._file is None:
                # Closed (and so deleted) by close(), at the end of the pass.
                self._file = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
            self._file.write(json.dumps(self._encode(item), separators=(",", ":")) + "\n")
        except OSError as exc:
            raise SpoolError(f"cannot spool pass state to a temporary file: {exc}") from exc
        self._spilled += 1

    def __len__(self) -> int:
        return len(self._memory) + self._spilled

    def __iter__(self) -> Iterator[T]:
        yield from self._memory
        if self._file is not None:
            self._file.flush()
            self._file.seek(0)
            for _ in range(self._spilled):
                yield self._decode(json.loads(self._file.readline()))

    def close(self) -> None:
        self._memory.clear()
        if self._file is not None:
            self._file.close()
            self._file = None
        self._spilled = 0


def _encode_stored(stored: StoredCounter | None) -> Any:
    if stored is None:
        return None
    return [stored.kind.value, stored.value, stored.raw, stored.version, stored.version_unreadable]


def _decode_stored(data: Any) -> StoredCounter | None:
    if data is None:
        return None
    kind, value, raw, version, unreadable = data
    return StoredCounter(CounterKind(kind), value, raw, version, unreadable)


def _encode_observation(o: Observation) -> Any:
    return [o.key.partition, o.key.sort_key, _encode_stored(o.stored), o.counted, o.at]


def _decode_observation(data: Any) -> Observation:
    partition, sort_key, stored, counted, at = data
    return Observation(EventKey(partition, sort_key), _decode_stored(stored), counted, at)


def _encode_correction(c: Correction) -> Any:
    return [c.key.partition, c.key.sort_key, c.reason.value, _encode_stored(c.stored), c.counted]


def _decode_correction(data: Any) -> Correction:
    partition, sort_key, reason, stored, counted = data
    decoded = _decode_stored(stored)
    assert decoded is not None  # a correction always has a stored counter
    return Correction(EventKey(partition, sort_key), Reason(reason), decoded, counted)


def _never() -> bool:
    return False


def _no_check() -> None:
    return None


@dataclass(frozen=True)
class PassControl:
    """How a caller (``serve``) steers a pass it started."""

    should_stop: Callable[[], bool] = _never
    """Checked between events (sweep, recheck, writes): the event in progress is finished,
    then the pass returns early with ``extra["stopped_early"] = True``."""
    before_write: Callable[[], None] = _no_check
    """Called immediately before every conditional write; raising
    :class:`LeaseLostError` aborts the pass with no further writes."""
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
    suspects: _Spool[Observation] = field(init=False)
    confirmed: _Spool[Correction] = field(init=False)

    def __post_init__(self) -> None:
        self.suspects = _Spool(self.spool_limit, _encode_observation, _decode_observation)
        self.confirmed = _Spool(self.spool_limit, _encode_correction, _decode_correction)

    def close(self) -> None:
        self.suspects.close()
        self.confirmed.close()


def new_run_id(now: datetime) -> str:
    """Sortable by time, unique across replicas and shards."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def _utc_now() -> datetime:
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
        wall: WallClock = _utc_now,
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
        )
        summary.extra.update(
            {
                "confirmed": 0,
                "missing": 0,
                "vanished": 0,
                "unsupported": 0,
                "stopped_early": False,
                "aborted": None,
                "brake_reason": None,
                "brake_overridden": False,
                "event_slug": options.event,
                "shard": str(options.shard) if options.shard else None,
                "settle_seconds": options.settle_seconds,
                "requests": {},
                "aws_errors": {},
                "consumed_write_units": 0.0,
            }
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
                shard=summary.extra["shard"],
            )
            try:
                self._run(state)
            except _PassStoppedError:
                summary.extra["stopped_early"] = True
            except LeaseLostError as exc:
                summary.failed = True
                summary.error = f"lease lost: {exc}"
                summary.extra["aborted"] = "lease_lost"
            except ReconcilerError as exc:
                summary.failed = True
                summary.error = f"{type(exc).__name__}: {exc}"
            finally:
                io = self._table.stats().minus(io_before)
                summary.consumed_read_units = io.read_units
                summary.extra["consumed_write_units"] = round(io.write_units, 3)
                summary.extra["requests"] = dict(io.requests)
                summary.extra["aws_errors"] = dict(io.errors)
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
        summary = state.summary
        look = first_look(observation)
        if look is FirstLook.IN_SYNC:
            summary.in_sync += 1
            return
        if look is FirstLook.VANISHED:
            summary.extra["vanished"] += 1
            return
        stored = observation.stored
        assert stored is not None  # VANISHED was handled above
        if look is FirstLook.UNSUPPORTED:
            summary.extra["unsupported"] += 1
            self._log.warning(
                "counter_version_unreadable",
                slug=observation.key.slug,
                partition=observation.key.partition,
                sort_key=observation.key.sort_key,
            )
            return
        reason = reason_for(stored, observation.counted)
        if reason is Reason.DRIFT:
            summary.drifted += 1
            direction = drift_direction(stored, observation.counted)
            if direction is not None and direction.over:
                summary.drift_over += 1
                summary.drift_attendees_over += direction.magnitude
            elif direction is not None:
                summary.drift_under += 1
                summary.drift_attendees_under += direction.magnitude
        elif reason is Reason.MISSING:
            summary.extra["missing"] += 1
        elif reason is Reason.INVALID:
            summary.invalid += 1
        state.suspects.append(observation)
        self._log.info(
            "counter_suspect",
            slug=observation.key.slug,
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
        summary.extra["confirmed"] = len(state.confirmed)

    # -- brake and apply ---------------------------------------------------------------------

    def _now(self) -> str:
        return self._wall().astimezone(UTC).isoformat(timespec="milliseconds")

    def _apply(self, state: _PassState) -> None:
        summary = state.summary
        decision = brake(len(state.confirmed), summary.events_checked, self._options.brake)
        hold = hold_for(
            decision,
            WriteMode(dry_run=self._options.dry_run, paused=state.control.corrections_paused),
        )
        summary.brake_tripped = decision.tripped
        summary.extra["brake_reason"] = decision.reason
        summary.extra["brake_overridden"] = decision.overridden
        if decision.tripped:
            self._log.error("brake_tripped", reason=decision.reason, planned=len(state.confirmed))
        elif decision.overridden:
            self._log.warning("brake_overridden", reason=decision.reason)
        if hold is not None:
            for correction in state.confirmed:
                summary.planned += 1
                self._audit.write(
                    audit_record(state.run_id, correction, audit_module.PLANNED, self._now(), hold)
                )
            return
        for correction in state.confirmed:
            if state.control.should_stop():
                raise _PassStoppedError
            state.control.before_write()
            try:
                self._table.write_correction(correction)
            except ConflictError:
                summary.conflicts += 1
                self._audit.write(
                    audit_record(state.run_id, correction, audit_module.CONFLICT, self._now())
                )
                continue
            summary.corrected += 1
            if correction.reason is Reason.MISSING:
                summary.initialized += 1
            self._audit.write(
                audit_record(state.run_id, correction, audit_module.CORRECTED, self._now())
            )


def build_reconciler(
    settings: RunSettings,
    clients: Clients,
    *,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
    wall: WallClock = _utc_now,
    on_summary: Sequence[SummaryCallback] = (),
    extra_audit_sinks: Sequence[AuditSink] = (),
) -> Reconciler:
    """The composition root shared by ``run`` and ``serve``: wires the DynamoDB adapter, the
    read-rate limiter and the audit sinks around one :class:`Reconciler`.

    Call :meth:`Reconciler.close` when done (closes the audit file, unhooks the client).
    """
    limiter = ReadRateLimiter(settings.max_reads_per_second, clock=clock, sleep=sleep)
    table = DynamoReconcileTable(
        clients.dynamodb(), settings.table.table_name, settings.table.model, limiter
    )
    if settings.settle_seconds <= BATCHING_WINDOW_SECONDS and not settings.dry_run:
        # Allowed (tests and the demo drive the handler themselves), but on a live table a
        # record still in flight could be mistaken for drift: say so loudly.
        get_logger(__name__).warning(
            "settle_window_too_short",
            settle_seconds=settings.settle_seconds,
            batching_window_seconds=BATCHING_WINDOW_SECONDS,
        )
    callbacks = list(on_summary)
    if settings.cloudwatch_namespace is not None:
        publisher = SummaryPublisher(clients.cloudwatch(), settings.cloudwatch_namespace)
        callbacks.append(_publish_safely(publisher))
    sinks: list[AuditSink] = [LogAuditSink(), *extra_audit_sinks]
    closers: list[Callable[[], None]] = [table.close]
    if settings.audit_file is not None:
        file_sink = JsonLinesAuditSink(settings.audit_file)
        sinks.append(file_sink)
        closers.append(file_sink.close)
    return Reconciler(
        events=table,
        table=table,
        audit=FanOutAuditSink(*sinks),
        options=PassOptions.from_settings(settings),
        clock=clock,
        sleep=sleep,
        wall=wall,
        on_summary=callbacks,
        on_close=closers,
    )


def _publish_safely(publisher: SummaryPublisher) -> SummaryCallback:
    """A CloudWatch outage must not turn a good pass into a failed one: the pass's own result
    stands, the lost datapoint is logged (and the reconciler alarms treat missing data)."""
    log = get_logger(__name__)

    def publish(summary: PassSummary) -> None:
        try:
            publisher.publish(summary)
        except ReconcilerError as exc:
            log.warning(
                "summary_publish_failed",
                namespace=publisher.namespace,
                error=type(exc).__name__,
                detail=str(exc),
            )

    return publish


def exit_code(summary: PassSummary) -> int:
    """0 success, 1 failure, 3 brake tripped (2 is for bad configuration, raised earlier)."""
    if summary.failed:
        return 1
    if summary.brake_tripped:
        return 3
    return 0


__all__ = [
    "EventNotFoundError",
    "PassControl",
    "PassOptions",
    "Reconciler",
    "build_reconciler",
    "exit_code",
    "new_run_id",
]
