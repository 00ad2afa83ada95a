"""One scheduled run: ask the lease, ask the lag gate, run the pass, record what happened.

The scheduler calls :class:`PassJob` on every tick. It never raises: a failed pass is logged and
counted and the next tick runs as scheduled, because a worker that dies on the first
throttling storm would leave counters drifting until someone notices the pod is gone.
"""

from __future__ import annotations

import datetime as dt
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

import structlog

from reconciler.kernel.errors import (
    AwsError,
    EndpointUnreachableError,
    LeaseLostError,
    ThrottledError,
)
from reconciler.kernel.logs import get_logger
from reconciler.reconcile.reconciler import PassControl, new_run_id
from reconciler.reconcile.summary import AwsErrorKey, PassSummary, StopReason
from reconciler.serve.lag_gate import LagDecision
from reconciler.serve.metrics import Outcome, ReconcilerMetrics, SkipReason
from reconciler.serve.status import StatusHistory

log = get_logger(__name__)


class PassRunner(Protocol):
    """The reconciliation pass as ``serve`` sees it (``reconciler.reconcile.Reconciler``)."""

    def run_pass(
        self, control: PassControl | None = None, run_id: str | None = None
    ) -> PassSummary:
        """Never raises for an expected failure (a summary with ``failed=True``); stops early
        with ``stop=StopReason.STOPPED_EARLY`` when ``should_stop``; ``before_write`` raising
        :class:`LeaseLostError` aborts it with ``stop=StopReason.LEASE_LOST``."""
        ...


class Leadership(Protocol):
    """The leader lease as the job sees it."""

    def is_held(self) -> bool: ...

    def ensure_held(self) -> None:
        """Raise :class:`LeaseLostError` unless the lease is certainly still ours."""
        ...


class LagCheck(Protocol):
    def check(self) -> LagDecision: ...


@dataclass(frozen=True, slots=True)
class Streaks:
    """Runs of passes in a row; alert rules use them so they need not know the interval."""

    failures: int = 0
    drift: int = 0


def next_streaks(streaks: Streaks, outcome: Outcome, summary: PassSummary) -> Streaks:
    """Failures count up until a pass does not fail; drift counts complete passes that found
    drift and is left alone by passes that did not complete (they prove nothing)."""
    failures = streaks.failures + 1 if outcome is Outcome.FAILURE else 0
    if outcome in (Outcome.SUCCESS, Outcome.EMPTY, Outcome.BRAKE):
        drift = streaks.drift + 1 if summary.drifted > 0 else 0
    else:
        drift = streaks.drift
    return Streaks(failures=failures, drift=drift)


def error_labels(exc: BaseException) -> AwsErrorKey | None:
    """The AWS error counter's labels for a crash, or None when it was not an AWS error."""
    if isinstance(exc, AwsError):
        return AwsErrorKey(exc.operation, exc.code)
    if isinstance(exc, ThrottledError):
        return AwsErrorKey("other", "Throttled")
    if isinstance(exc, EndpointUnreachableError):
        return AwsErrorKey("other", "EndpointUnreachable")
    return None


def _run_id() -> str:
    return new_run_id(dt.datetime.now(dt.UTC))


class PassJob:
    """Callable run by the scheduler; holds the failure and drift streaks between runs, and
    the status page's :attr:`history`."""

    def __init__(
        self,
        runner: PassRunner,
        metrics: ReconcilerMetrics,
        *,
        stop: threading.Event,
        leadership: Leadership | None = None,
        lag_gate: LagCheck | None = None,
        clock: Callable[[], float] = time.time,
        monotonic: Callable[[], float] = time.monotonic,
        run_ids: Callable[[], str] = _run_id,
    ) -> None:
        self._runner = runner
        self._metrics = metrics
        self._stop = stop
        self._leadership = leadership
        self._lag_gate = lag_gate
        self._clock = clock
        self._monotonic = monotonic
        self._run_ids = run_ids
        self.history = StatusHistory()
        self._streaks = Streaks()
        self._idle = threading.Event()
        self._idle.set()
        self._lock = threading.Lock()

    @property
    def consecutive_failures(self) -> int:
        return self._streaks.failures

    @property
    def running(self) -> bool:
        return not self._idle.is_set()

    def wait_idle(self, timeout: float | None) -> bool:
        """Block until no pass is running; False if the timeout expired first."""
        return self._idle.wait(timeout)

    def __call__(self) -> None:
        if self._stop.is_set():
            self._metrics.observe_skip(SkipReason.SHUTTING_DOWN)
            return
        if self._leadership is not None and not self._leadership.is_held():
            self._forget_streaks()
            self._metrics.observe_skip(SkipReason.NOT_LEADER)
            log.debug("pass_skipped", reason="not_leader")
            return
        # max_instances=1 already prevents overlap; the lock makes it true for direct callers.
        if not self._lock.acquire(blocking=False):
            self._metrics.observe_skip(SkipReason.OVERRUN)
            return
        self._idle.clear()
        try:
            with structlog.contextvars.bound_contextvars(run_id=self._run_ids()):
                self._run()
        except Exception as exc:  # noqa: BLE001 - the worker must outlive any bug in one pass
            log.error("pass_bookkeeping_failed", error_type=type(exc).__name__, error=str(exc))
        finally:
            self._idle.set()
            self._lock.release()

    def _forget_streaks(self) -> None:
        """A standby runs no passes, so the failures and drift it saw while it led say nothing
        about the passes now run elsewhere: kept, they would hold this replica unready and keep
        ReconcilerPassesFailing firing for good, and resume a drift streak on re-election."""
        if not self._lock.acquire(blocking=False):
            return  # a pass is still finishing; the next skip resets
        try:
            if self._streaks != Streaks():
                self._streaks = Streaks()
                self._metrics.reset_streaks()
        finally:
            self._lock.release()

    def _should_stop(self) -> bool:
        return self._stop.is_set() or (
            self._leadership is not None and not self._leadership.is_held()
        )

    def _before_write(self) -> None:
        if self._leadership is not None:
            self._leadership.ensure_held()

    def _check_lag(self) -> bool:
        if self._lag_gate is None:
            return False
        decision = self._lag_gate.check()
        self._metrics.observe_lag_gate(
            paused=decision.paused,
            error=decision.error is not None,
            iterator_age=decision.iterator_age_seconds,
        )
        if decision.error is not None:
            self._metrics.observe_aws_error(AwsErrorKey("GetMetricStatistics", decision.error))
        if decision.paused:
            log.warning(
                "corrections_paused",
                reason=decision.reason,
                iterator_age_seconds=decision.iterator_age_seconds,
                settle_seconds=decision.settle_seconds,
            )
        return decision.paused

    def _run(self) -> None:
        run_id = structlog.contextvars.get_contextvars()["run_id"]
        paused = self._check_lag()
        control = PassControl(
            should_stop=self._should_stop,
            before_write=self._before_write,
            corrections_paused=paused,
        )
        self._metrics.pass_started()
        started_at = self._clock()
        started = self._monotonic()
        try:
            summary = self._runner.run_pass(control, run_id=run_id)
        except LeaseLostError:
            summary = PassSummary(
                run_id=run_id, failed=True, error="lease lost", stop=StopReason.LEASE_LOST
            )
        except Exception as exc:  # noqa: BLE001 - counted and logged; the next pass runs
            log.error("pass_crashed", error_type=type(exc).__name__, error=str(exc))
            summary = PassSummary(run_id=run_id, failed=True, error=type(exc).__name__)
            labels = error_labels(exc)
            if labels is not None:
                self._metrics.observe_aws_error(labels)
        duration = self._monotonic() - started
        finished_at = self._clock()
        outcome = summary.outcome
        self._streaks = next_streaks(self._streaks, outcome, summary)
        self._metrics.observe_pass(
            summary,
            duration,
            finished_at=finished_at,
            outcome=outcome,
            consecutive_failures=self._streaks.failures,
            drift_streak=self._streaks.drift,
        )
        self.history.record(summary, outcome, finished_at=finished_at, duration=duration)
        level = log.info if outcome is Outcome.SUCCESS else log.warning
        level(
            "scheduled_pass_finished",
            outcome=outcome.value,
            started_at=started_at,
            finished_at=finished_at,
            duration_seconds=round(duration, 3),
            consecutive_failures=self._streaks.failures,
            error=summary.error,
        )
