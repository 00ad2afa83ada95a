"""Pure decisions of the rotating sweep: which events a budgeted pass recounts, and the cycle.

A table too big to recount on every pass (``--max-read-units``, ``--full-sweep-every``) is
walked in slug order from where the last pass stopped, wrapping at the end. Every pass still
reads every event item (small, and one ``Query`` page holds hundreds), and compares its counter
with the one recorded when the event was last found in sync:

- an event whose counter is missing or not a number, or differs from the recorded one (the
  handler applied records since, or something else changed it), is recounted by every pass:
  this is where drift appears, and it is cheap to find;
- the rest, unchanged since they were last verified or never verified, are recounted in
  rotation: as many as the
  read budget and the period's quota allow, so that each is recounted at least once per
  ``--full-sweep-every`` when the budget suffices (and an alert says so when it does not).

Why the fingerprint is enough: every change the handler makes bumps ``counterVersion``, and any
other change of the counter changes its value, so an event whose fingerprint is unchanged since
it was found in sync can only have drifted through a record the handler never applied (a
dropped batch). That is what the rotation is for; no faster signal exists for it.

The cycle's timestamps are wall-clock epoch seconds (shared by replicas, surviving restarts),
so skew between replicas shows up as that much error in the reported age, never in what is
recounted: the cursor decides that, not the clock.
"""

from __future__ import annotations

import enum
import math
from dataclasses import dataclass, replace

from reconciler.reconcile.core import CounterKind, StoredCounter

AFTER_SLUG = "$"
"""The character after ``#``: sort keys ``<slug>#...`` sort below ``<slug>$``, and those of
every slug that follows ``<slug>`` in the listing sort at or above it (see :func:`resume_key`)."""

QUOTA_SLACK = 1.1
"""Each pass takes a tenth more than its share of the period, so passes that run a little late
still finish the cycle within the period."""


class Priority(enum.Enum):
    """Why a budgeted pass recounts an event; the published label values."""

    CHANGED = "changed"
    """Counter changed since it was last verified, missing, or not a number."""
    ROTATION = "rotation"
    """Unchanged since it was last verified: recounted in its turn."""


def fingerprint(stored: StoredCounter) -> str:
    """What is recorded of a counter found in sync; any change by anyone changes it."""
    version = stored.version_raw if stored.version_unreadable else stored.version
    return f"{stored.kind.value}:{stored.raw if stored.value is None else stored.value}:{version}"


def priority(stored: StoredCounter | None, recorded: str | None) -> Priority:
    """A never-verified event waits for its turn: on adoption every event is unverified, and
    recounting them all at once is exactly what the budget exists to prevent."""
    if stored is None or stored.kind is not CounterKind.NUMBER:
        return Priority.CHANGED
    if recorded is None or fingerprint(stored) == recorded:
        return Priority.ROTATION
    return Priority.CHANGED


def resume_key(slug: str) -> str:
    """The smallest sort key of any event listed after ``slug`` (inclusive bound)."""
    return f"{slug}{AFTER_SLUG}"


def record_key(slug: str) -> str:
    """A verification record's sort key: ``<slug>#`` sorts exactly as the slug's event items."""
    return f"{slug}#"


@dataclass(frozen=True, slots=True)
class Cycle:
    """Where the rotation stands: shared by replicas through the state table."""

    cursor: str | None = None
    """The last slug recounted in rotation; ``None``: start at the beginning."""
    started_at: float | None = None
    """When the current cycle began (epoch seconds)."""
    previous_started_at: float | None = None
    """When the last complete cycle began: every event was verified since then."""
    last_pass_at: float | None = None
    events: int | None = None
    """Events seen by the last pass: the base of the next pass's quota."""
    done: int = 0
    """Events recounted in rotation since the current cycle began."""
    revision: int = 0
    """Bumped by every save; a save is conditioned on the revision it read."""


@dataclass(slots=True)
class RotationReport:
    """What a rotating pass walked; ``None`` in a pass that recounts everything."""

    period_seconds: float | None = None
    max_read_units: float | None = None
    quota: int | None = None
    """Rotation recounts owed to the period this pass (``None``: no period, or first pass)."""
    changed: int = 0
    """Recounted because their counter changed since verified, is missing or not a number."""
    rotated: int = 0
    """Unchanged events recounted in their turn."""
    deferred: int = 0
    """Unchanged events left for a later pass."""
    recorded: int = 0
    """Verification records written (events found in sync whose record differed)."""
    stale_removed: int = 0
    """Verification records of events that no longer exist, deleted."""
    budget_exhausted: bool = False
    cycle_completed: bool = False
    cursor_saved: bool = True
    """``False``: another pass saved the cursor in between (a lease hand-over); its stands."""
    oldest_verification_age_seconds: float | None = None
    """At most this long ago was the least recently verified event recounted (``None`` until
    a first cycle completed)."""

    def to_dict(self) -> dict[str, object]:
        age = self.oldest_verification_age_seconds
        return {
            "period_seconds": self.period_seconds,
            "max_read_units": self.max_read_units,
            "quota": self.quota,
            "changed": self.changed,
            "rotated": self.rotated,
            "deferred": self.deferred,
            "recorded": self.recorded,
            "stale_removed": self.stale_removed,
            "budget_exhausted": self.budget_exhausted,
            "cycle_completed": self.cycle_completed,
            "cursor_saved": self.cursor_saved,
            "oldest_verification_age_seconds": None if age is None else round(age, 3),
        }


def quota(cycle: Cycle, period: float | None, now: float) -> int | None:
    """Rotation recounts this pass owes the period; ``None``: no period, or nothing known yet
    (the first pass), so only the read budget limits it."""
    if period is None or cycle.events is None or cycle.last_pass_at is None:
        return None
    elapsed = max(0.0, now - cycle.last_pass_at)
    share = min(1.0, elapsed / period) if period > 0 else 1.0
    return math.ceil(cycle.events * share * QUOTA_SLACK)


def oldest_verification_age(cycle: Cycle, now: float) -> float | None:
    """How long ago the least recently verified event was recounted, estimated.

    Events the current cycle has not reached yet were last recounted by the previous one, the
    first of them when the previous cycle was as far through the listing as this one is now.
    Assuming the previous cycle went at an even pace, that was ``done / events`` of the way
    through it. ``now - previous_started_at`` bounds it exactly; ``None`` until a first cycle
    completed.
    """
    previous, started = cycle.previous_started_at, cycle.started_at
    if previous is None or started is None:
        return None
    through = min(1.0, cycle.done / cycle.events) if cycle.events else 0.0
    oldest_ahead = now - (previous + through * (started - previous))
    return max(0.0, oldest_ahead, now - started if cycle.done else 0.0)


def advance(
    cycle: Cycle, *, cursor: str | None, wrapped: bool, rotated: int, events: int, now: float
) -> Cycle:
    """The cycle after a pass that recounted ``rotated`` events in rotation, up to ``cursor``;
    ``wrapped`` when it went past the end of the listing (``rotated`` then counts the events
    after the wrap only)."""
    started = cycle.started_at if cycle.started_at is not None else now
    previous = cycle.previous_started_at
    done = cycle.done + rotated
    if wrapped:
        previous, started, done = started, now, rotated
    return replace(
        cycle,
        cursor=cursor,
        started_at=started,
        previous_started_at=previous,
        last_pass_at=now,
        events=events,
        done=done,
        revision=cycle.revision + 1,
    )


__all__ = [
    "Cycle",
    "Priority",
    "RotationReport",
    "advance",
    "fingerprint",
    "oldest_verification_age",
    "priority",
    "quota",
    "record_key",
    "resume_key",
]
