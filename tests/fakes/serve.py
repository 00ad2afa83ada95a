"""In-memory fakes of the ports ``reconciler serve`` depends on.

``FakePassRunner`` plays a pass over N events the way the real one uses ``PassControl``:
``should_stop`` between events, ``before_write`` before every write, and a lost lease turning
into ``stop=StopReason.LEASE_LOST``. ``InMemoryLeaseStore`` enforces the same conditions
as the DynamoDB lock item, and ``ManualClock`` lets lease tests move time by hand.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field

from reconciler.kernel.errors import ConflictError, LeaseLostError, ReconcilerError
from reconciler.reconcile.reconciler import PassControl
from reconciler.reconcile.summary import PassSummary, StopReason
from reconciler.serve.lag_gate import LagDecision
from reconciler.serve.lease_store import LeaseRecord


@dataclass
class FakePassRunner:
    """Each call pops the next scripted result: a PassSummary, or an exception to raise.

    With nothing scripted it plays ``events`` events with one write every ``write_every``.
    """

    script: list[PassSummary | BaseException] = field(default_factory=list)
    events: int = 3
    write_every: int = 1
    on_event: Callable[[int], None] | None = None
    """Called while "processing" each event: tests stop or revoke the lease mid-pass here."""
    controls: list[PassControl] = field(default_factory=list)
    run_ids: list[str | None] = field(default_factory=list)
    writes: int = 0
    events_done: int = 0

    def run_pass(
        self, control: PassControl | None = None, run_id: str | None = None
    ) -> PassSummary:
        control = control or PassControl()
        self.controls.append(control)
        self.run_ids.append(run_id)
        if self.script:
            result = self.script.pop(0)
            if isinstance(result, BaseException):
                raise result
            return result
        summary = PassSummary(
            run_id=run_id or "fake", corrections_paused=control.corrections_paused
        )
        try:
            for index in range(self.events):
                if control.should_stop():
                    summary.stop = StopReason.STOPPED_EARLY
                    return summary
                if self.on_event is not None:
                    self.on_event(index)
                summary.events_checked += 1
                self.events_done += 1
                if index % self.write_every == 0 and not control.corrections_paused:
                    control.before_write()
                    self.writes += 1
                    summary.corrected += 1
        except LeaseLostError as exc:
            summary.failed = True
            summary.error = f"lease lost: {exc}"
            summary.stop = StopReason.LEASE_LOST
        return summary


@dataclass
class FakeLeadership:
    held: bool = True
    checks: int = 0

    def is_held(self) -> bool:
        return self.held

    def ensure_held(self) -> None:
        self.checks += 1
        if not self.held:
            raise LeaseLostError("fake lease revoked")


@dataclass
class FakeLagGate:
    decision: LagDecision = field(default_factory=lambda: LagDecision(False, "open", 120.0, 1.0))
    checks: int = 0

    def check(self) -> LagDecision:
        self.checks += 1
        return self.decision


@dataclass
class FakeIteratorAgeReader:
    age_ms: float | None = None
    error: Exception | None = None
    calls: list[tuple[str, float]] = field(default_factory=list)

    def max_iterator_age_ms(self, function_name: str, window_seconds: float) -> float | None:
        self.calls.append((function_name, window_seconds))
        if self.error is not None:
            raise self.error
        return self.age_ms


@dataclass
class ManualClock:
    now: float = 1000.0

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@dataclass
class InMemoryLeaseStore:
    """The lock item in a dict slot, with the conditions of DynamoLeaseStore."""

    record: LeaseRecord | None = None
    writes: int = 0
    fail_next: list[ReconcilerError] = field(default_factory=list)
    lose_response_of_next_write: bool = False
    """The next write lands but reports a timeout, as a lost response would."""
    lock: threading.Lock = field(default_factory=threading.Lock)

    def _maybe_fail(self) -> None:
        if self.fail_next:
            raise self.fail_next.pop(0)

    def _landed(self) -> None:
        self.writes += 1
        if self.lose_response_of_next_write:
            self.lose_response_of_next_write = False
            raise ReconcilerError("response lost after the write landed")

    def read(self) -> LeaseRecord | None:
        with self.lock:
            self._maybe_fail()
            return self.record

    def create(self, record: LeaseRecord) -> None:
        with self.lock:
            self._maybe_fail()
            if self.record is not None:
                raise ConflictError("lease exists")
            self.record = record
            self._landed()

    def replace(self, record: LeaseRecord, expected_version: str) -> None:
        with self.lock:
            self._maybe_fail()
            if self.record is None or self.record.version != expected_version:
                raise ConflictError("lease version changed")
            self.record = record
            self._landed()

    def delete(self, expected_version: str) -> None:
        with self.lock:
            self._maybe_fail()
            if self.record is None or self.record.version != expected_version:
                raise ConflictError("lease version changed")
            self.record = None
