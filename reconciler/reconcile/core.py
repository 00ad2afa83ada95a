"""Pure decisions of a reconciliation pass: what a look means, when drift is confirmed, the brake.

Nothing here does I/O or reads a clock; every function takes observations and settings and
returns a decision, so each outcome can be tested exhaustively with plain values.

The race-safety argument lives in :func:`confirm`: a correction is only planned when two looks
taken at least a settle window apart saw the same count, the same stored value and the same
``counterVersion``. Each look reads the event item *before* counting its attendees, so any
record that was in flight at the first look is applied by the handler before the second read
and changes the version (see docs/architecture.md, "Why corrections never race the handler").
"""

from __future__ import annotations

import enum
import hashlib
from dataclasses import dataclass

from reconciler.kernel.model import EventKey


class CounterKind(enum.Enum):
    NUMBER = "number"
    MISSING = "missing"
    INVALID = "invalid"
    """Present but not an integer number (a string, a fraction, a map...)."""


@dataclass(frozen=True, slots=True)
class StoredCounter:
    """The counter attributes of an event item as one consistent read saw them.

    ``raw`` is the adapter's exact rendering of the stored attribute; the core only compares it
    for equality, and the adapter uses it to condition the write on precisely what was seen.
    """

    kind: CounterKind
    value: int | None = None
    raw: str | None = None
    version: int | None = None
    """``counterVersion``; ``None`` when the item has none (a handler that does not keep one)."""
    version_unreadable: bool = False
    """``counterVersion`` exists but is not an integer (a string...): the handler skips such an
    event for good, so a confirmed correction replaces it (see :data:`REPLACED_VERSION`)."""
    version_raw: str | None = None
    """The exact unreadable ``counterVersion`` (adapter rendering), to condition that write on."""


@dataclass(frozen=True, slots=True)
class Observation:
    """One look at one event: the stored counter read first, then the attendees counted."""

    key: EventKey
    stored: StoredCounter | None
    """``None`` when the event item no longer exists."""
    counted: int
    at: float
    """Monotonic time at which the look finished (the settle window starts here)."""


class Reason(enum.Enum):
    """Why an event needs a correction."""

    DRIFT = "drift"
    MISSING = "missing"
    INVALID = "invalid"
    INVALID_VERSION = "invalid_version"
    """The count is right but ``counterVersion`` is not an integer: only the version is fixed."""


class FirstLook(enum.Enum):
    IN_SYNC = "in_sync"
    SUSPECT = "suspect"
    VANISHED = "vanished"
    UNSUPPORTED = "unsupported"
    """Kept for the ledger path's vocabulary; the classic pass repairs an unreadable version."""


class Recheck(enum.Enum):
    CONFIRMED = "confirmed"
    IN_FLUX = "in_flux"


class CorrectionOutcome(enum.Enum):
    """What became of a correction the pass considered: the one vocabulary of the audit records,
    the audit log, the Prometheus ``outcome`` label and the CloudWatch correction metrics.

    The values are published (alert rules match them), so they never change.
    """

    APPLIED = "applied"
    """Written: the counter now holds the recount."""
    CONFLICT = "conflict"
    """The conditional write was refused: the item changed after the second look."""
    IN_FLUX = "in_flux"
    """Never confirmed: the two looks disagreed (no correction, so never audited)."""
    DRY_RUN = "dry_run"
    BRAKED = "braked"
    PAUSED = "paused"

    @property
    def held(self) -> bool:
        """Confirmed but deliberately not written (see :class:`Hold`)."""
        return self in HELD_OUTCOMES


class Hold(enum.Enum):
    """Why the confirmed corrections of a pass were planned but not written.

    Each value is the :class:`CorrectionOutcome` a held correction is reported under.
    """

    DRY_RUN = CorrectionOutcome.DRY_RUN.value
    PAUSED = CorrectionOutcome.PAUSED.value
    BRAKED = CorrectionOutcome.BRAKED.value

    @property
    def outcome(self) -> CorrectionOutcome:
        return CorrectionOutcome(self.value)


HELD_OUTCOMES = frozenset(hold.outcome for hold in Hold)

REPLACED_VERSION = 1
"""What a correction writes over an unreadable ``counterVersion``: any integer restores the
handler's ``ADD``; the condition on the exact raw value is what keeps the write race-safe."""


@dataclass(frozen=True, slots=True)
class Correction:
    """A confirmed correction: set ``key``'s counter to ``counted``, on condition of ``stored``."""

    key: EventKey
    reason: Reason
    stored: StoredCounter
    counted: int

    @property
    def delta(self) -> int | None:
        """``counted - stored``; ``None`` for an invalid counter, which has no numeric value."""
        if self.stored.kind is CounterKind.NUMBER and self.stored.value is not None:
            return self.counted - self.stored.value
        if self.stored.kind is CounterKind.MISSING:
            return self.counted
        return None

    @property
    def version_after(self) -> int:
        """The ``counterVersion`` the write leaves behind (``ADD 1``, or the replacement)."""
        if self.stored.version_unreadable:
            return REPLACED_VERSION
        return (self.stored.version or 0) + 1


def written(correction: Correction, now: StoredCounter | None) -> bool:
    """Whether the item read back holds exactly what ``correction`` writes.

    A conflict on a write whose first attempt landed but whose response was lost (botocore
    retried, and the retry's own condition refused it) reads back as written. Any record the
    handler applied since would have moved the version past ``version_after``.
    """
    return written_value(correction.counted, correction.version_after, now)


def written_value(counted: int, version_after: int, now: StoredCounter | None) -> bool:
    """Whether ``now`` holds exactly ``counted`` at ``version_after`` (see :func:`written`)."""
    return (
        now is not None
        and now.kind is CounterKind.NUMBER
        and now.value == counted
        and not now.version_unreadable
        and now.version == version_after
    )


@dataclass(frozen=True, slots=True)
class Shard:
    """This worker takes the slugs whose stable hash modulo ``count`` equals ``index``."""

    index: int
    count: int

    def __str__(self) -> str:
        return f"{self.index}/{self.count}"


@dataclass(frozen=True, slots=True)
class BrakePolicy:
    max_corrections: int
    max_ratio: float
    min_events_for_ratio: int
    """The ratio only means "systematic" over enough events; a one-event pass must not trip it."""
    force: bool = False


@dataclass(frozen=True, slots=True)
class BrakeDecision:
    tripped: bool
    reason: str | None = None
    overridden: bool = False
    """The brake would have tripped but ``--force`` overrode it."""


@dataclass(frozen=True, slots=True)
class WriteMode:
    dry_run: bool = False
    paused: bool = False


@dataclass(frozen=True, slots=True)
class Plan:
    """One decision for every confirmed correction of a pass, so the shell can stream them
    from its spool instead of materialising a plan of them all."""

    brake: BrakeDecision
    hold: Hold | None
    """Why none is written; ``None`` when every one is written."""

    @property
    def outcome(self) -> CorrectionOutcome:
        """What every confirmed correction becomes, unless its write is refused (a conflict)."""
        return CorrectionOutcome.APPLIED if self.hold is None else self.hold.outcome


def shard_of(slug: str, count: int) -> int:
    """Stable across processes, machines and Python versions (unlike ``hash()``)."""
    digest = hashlib.sha256(slug.encode("utf-8")).digest()
    return int.from_bytes(digest[:8], "big") % count


def in_shard(slug: str, shard: Shard | None) -> bool:
    return shard is None or shard_of(slug, shard.count) == shard.index


def reason_for(stored: StoredCounter, counted: int) -> Reason | None:
    """What is wrong with ``stored`` given the recount; ``None`` when it is in sync."""
    if stored.kind is CounterKind.MISSING:
        return Reason.MISSING
    if stored.kind is CounterKind.INVALID:
        return Reason.INVALID
    return None if stored.value == counted else Reason.DRIFT


def correction_reason(stored: StoredCounter, counted: int) -> Reason | None:
    """Like :func:`reason_for`, and an unreadable version alone is worth a correction."""
    reason = reason_for(stored, counted)
    if reason is None and stored.version_unreadable:
        return Reason.INVALID_VERSION
    return reason


def first_look(observation: Observation) -> FirstLook:
    stored = observation.stored
    if stored is None:
        return FirstLook.VANISHED
    if stored.version_unreadable or reason_for(stored, observation.counted) is not None:
        return FirstLook.SUSPECT
    return FirstLook.IN_SYNC


def recheck_due(observation: Observation, settle_seconds: float) -> float:
    """The monotonic time from which a suspect may be looked at again."""
    return observation.at + settle_seconds


def confirm(first: Observation, second: Observation) -> tuple[Recheck, Correction | None]:
    """Confirmed only if nothing at all changed between the two looks.

    Equality of the version is what makes this exact: the handler bumps it on every applied
    update, so equal versions mean no update landed between the two reads, whatever the count
    did (no ABA). Equal counts and equal stored values are required as well, so that the
    records written between the two counts net to zero and none of them is in the value we
    write (the handler will still apply them, on top of our value, exactly once).
    """
    if first.key != second.key:
        raise ValueError("confirm() compares two looks at the same event")
    stored = first.stored
    if (
        stored is None
        or second.stored is None
        or second.stored != stored
        or second.counted != first.counted
    ):
        return Recheck.IN_FLUX, None
    reason = correction_reason(stored, first.counted)
    if reason is None:
        return Recheck.IN_FLUX, None
    return Recheck.CONFIRMED, Correction(first.key, reason, stored, first.counted)


def brake(confirmed: int, events_checked: int, policy: BrakePolicy) -> BrakeDecision:
    """Trips when confirmed corrections exceed the absolute limit or the ratio of events."""
    reason: str | None = None
    if confirmed > policy.max_corrections:
        reason = f"{confirmed} corrections exceed --max-corrections {policy.max_corrections}"
    elif (
        events_checked >= policy.min_events_for_ratio
        and events_checked > 0
        and confirmed / events_checked > policy.max_ratio
    ):
        reason = (
            f"{confirmed} corrections over {events_checked} events exceed "
            f"--max-correction-ratio {policy.max_ratio:g}"
        )
    if reason is None:
        return BrakeDecision(tripped=False)
    if policy.force:
        return BrakeDecision(tripped=False, reason=reason, overridden=True)
    return BrakeDecision(tripped=True, reason=reason)


def plan_corrections(
    confirmed: int,
    events_checked: int,
    policy: BrakePolicy,
    mode: WriteMode,
) -> Plan:
    """Decide whether the ``confirmed`` corrections of a pass are written, and if not, why.

    The brake is evaluated even in dry-run and paused mode, so a rehearsal predicts the real
    pass. When several reasons hold, the one named is the operator's own choice (dry run),
    then the lag gate's pause (nothing may be written while the handler is behind), then the
    brake, so a rehearsal is never reported as a braked pass.
    """
    decision = brake(confirmed, events_checked, policy)
    hold: Hold | None = None
    if mode.dry_run:
        hold = Hold.DRY_RUN
    elif mode.paused:
        hold = Hold.PAUSED
    elif decision.tripped:
        hold = Hold.BRAKED
    return Plan(decision, hold)


@dataclass(frozen=True, slots=True)
class DriftDirection:
    over: bool
    magnitude: int


def drift_direction(stored: StoredCounter, counted: int) -> DriftDirection | None:
    """For numeric drift only: was the counter too high, and by how many attendees."""
    if stored.kind is not CounterKind.NUMBER or stored.value is None or stored.value == counted:
        return None
    return DriftDirection(over=stored.value > counted, magnitude=abs(stored.value - counted))
