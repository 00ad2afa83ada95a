"""How a caller steers a pass, and the options a pass runs with.

Kept apart from the pass itself (:mod:`reconciler.reconcile.reconciler`) so that its callers
(``serve``'s job, the composition root) and both paths of the pass share one definition.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from reconciler.kernel.errors import ReconcilerError
from reconciler.reconcile.core import BrakePolicy, Shard
from reconciler.reconcile.scan_core import SweepMode
from reconciler.reconcile.settings import DEFAULT_MAX_KEY_SUSPECTS, RunSettings


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

    def stop_if_asked(self) -> None:
        if self.should_stop():
            raise PassStoppedError


@dataclass(frozen=True, slots=True)
class PassOptions:
    """The part of :class:`RunSettings` the pass itself needs."""

    settle_seconds: float
    concurrency: int
    brake: BrakePolicy
    dry_run: bool = False
    event: str | None = None
    shard: Shard | None = None
    sweep: SweepMode = SweepMode.AUTO
    """Without a scan adapter (the in-memory fakes) every sweep is a query sweep."""
    max_key_suspects: int = DEFAULT_MAX_KEY_SUSPECTS
    max_read_units: float | None = None
    full_sweep_every: float | None = None

    @property
    def rotating(self) -> bool:
        """Budgeted: changed events every pass, the rest in rotation (``rotation_core``)."""
        return self.event is None and (
            self.max_read_units is not None or self.full_sweep_every is not None
        )

    @classmethod
    def from_settings(cls, settings: RunSettings) -> PassOptions:
        return cls(
            settle_seconds=settings.settle_seconds,
            concurrency=settings.concurrency,
            brake=settings.brake,
            dry_run=settings.dry_run,
            event=settings.event,
            shard=settings.shard,
            max_key_suspects=settings.max_key_suspects,
            max_read_units=settings.max_read_units,
            full_sweep_every=settings.full_sweep_every,
            sweep=settings.sweep,
        )


class EventNotFoundError(ReconcilerError):
    """``--event`` names a slug that has no event item."""


class PassStoppedError(Exception):
    """Inside a pass only: ``should_stop`` said so (the pass ends early, it does not fail)."""


SLEEP_SLICE_SECONDS = 1.0
"""The settle wait sleeps in slices so ``should_stop`` is honoured within a second."""


def wait_until(
    due: float,
    control: PassControl,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    tick: Callable[[float], None] | None = None,
) -> None:
    """Sleeps until the monotonic ``due``; raises :class:`PassStoppedError` when asked to stop.
    ``tick`` hears the seconds left before each slice (a progress display's countdown)."""
    while True:
        control.stop_if_asked()
        remaining = due - clock()
        if remaining <= 0:
            return
        if tick is not None:
            tick(remaining)
        sleep(min(remaining, SLEEP_SLICE_SECONDS))


def new_run_id(now: datetime) -> str:
    """Sortable by time, unique across replicas and shards."""
    return f"{now.astimezone(UTC):%Y%m%dT%H%M%SZ}-{uuid.uuid4().hex[:8]}"


def utc_now() -> datetime:
    return datetime.now(UTC)
