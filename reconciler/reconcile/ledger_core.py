"""Pure decisions of the ledger path: counter against ledger, ledger against table, per key.

An event whose ledger is backfilled is checked in "ledger mode". Two comparisons replace the
classic recount:

- The counter against the ledger's present entries. Every change of the ledger bumps the
  counter's ``counterVersion`` in the same transaction, so a count of the entries taken between
  two reads of the counter that saw the same version is exact, however hot the event: no
  settle window is needed, only a quiet moment of milliseconds.
- The ledger against the registration table, one attendee item at a time. A lost stream record
  leaves an item whose entry disagrees with it; a record still in flight does too, for a while.
  A key is repaired only when, a settle window later, it still disagrees and its entry is exactly
  as first read (nothing was applied to it in between), so the record was lost. The repair flips
  the entry and adds ±1 to the counter in one transaction; a record of that key still in flight
  afterwards finds the state already set and adds nothing.

Nothing here does I/O or reads a clock. Attendee keys are e-mail addresses: :class:`AttendeeRef`
keeps them out of every ``repr``, and nothing derived from them but the item hash leaves it.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field

from reconciler.kernel.ledger import Entry, item_hash
from reconciler.kernel.model import EventKey
from reconciler.reconcile.core import Correction, StoredCounter, correction_reason


class KeyDirection(enum.Enum):
    """Which way an item's entry disagrees with the table; the published label values."""

    MISSING = "missing"
    """The attendee exists, the ledger does not count it (a lost INSERT): +1."""
    EXTRA = "extra"
    """The ledger counts an attendee that no longer exists (a lost REMOVE): -1."""

    @property
    def delta(self) -> int:
        return 1 if self is KeyDirection.MISSING else -1


@dataclass(frozen=True, slots=True)
class AttendeeRef:
    """An attendee item's key, held in memory only: its sort key is an e-mail address."""

    pk: str = field(repr=False)
    sk: str = field(repr=False)

    @property
    def item(self) -> str:
        return item_hash(self.pk, self.sk)


@dataclass(frozen=True, slots=True)
class KeySuspect:
    """An item whose entry disagreed with the table at the first look."""

    event: EventKey
    item: str
    direction: KeyDirection
    entry: Entry | None
    """The entry exactly as read (``None``: there was none); the repair is conditioned on it."""
    attendee: AttendeeRef | None = field(repr=False)
    """The attendee's key for a missing entry; ``None`` for an extra one (there is no item)."""
    at: float
    """Monotonic time of the first look: the settle window starts here."""


@dataclass(frozen=True, slots=True)
class KeyRepair:
    """A confirmed per-key repair: write ``entry`` over ``before`` and add ``delta``."""

    event: EventKey
    item: str
    direction: KeyDirection
    before: Entry | None
    entry: Entry

    @property
    def delta(self) -> int:
        return self.direction.delta


def key_suspects(
    event: EventKey,
    attendees: Iterable[AttendeeRef],
    entries: Mapping[str, Entry],
    at: float,
) -> Iterator[KeySuspect]:
    """Attendees the ledger does not count, then present entries with no attendee."""
    seen: set[str] = set()
    for attendee in attendees:
        item = attendee.item
        seen.add(item)
        entry = entries.get(item)
        if entry is None or not entry.present:
            yield KeySuspect(event, item, KeyDirection.MISSING, entry, attendee, at)
    for item, entry in entries.items():
        if entry.present and item not in seen:
            yield KeySuspect(event, item, KeyDirection.EXTRA, entry, None, at)


def confirm_key(
    suspect: KeySuspect, entry: Entry | None, attendee_exists: bool
) -> KeyRepair | None:
    """The second look at one key: a repair only if it still disagrees the same way and its
    entry is exactly as first read (no record of the item was applied in between)."""
    if entry != suspect.entry:
        return None
    present = entry is not None and entry.present
    if suspect.direction is KeyDirection.MISSING and not (attendee_exists and not present):
        return None
    if suspect.direction is KeyDirection.EXTRA and not (present and not attendee_exists):
        return None
    position = entry.position if entry is not None else None
    repaired = Entry(present=suspect.direction is KeyDirection.MISSING, position=position)
    return KeyRepair(suspect.event, suspect.item, suspect.direction, entry, repaired)


class CounterLook(enum.Enum):
    """What one measurement of the counter against the ledger found."""

    IN_SYNC = "in_sync"
    GAP = "gap"
    IN_FLUX = "in_flux"
    """The counter changed while the entries were counted: measure again."""
    VANISHED = "vanished"


@dataclass(frozen=True, slots=True)
class LedgerMeasure:
    """The counter read, the present entries counted, the counter read again."""

    key: EventKey
    before: StoredCounter | None
    present: int
    after: StoredCounter | None


def judge_measure(measure: LedgerMeasure) -> tuple[CounterLook, Correction | None]:
    """Exact when both reads saw the same counter: the ledger cannot change without the
    version changing, so the count of entries belongs to that version.

    An unreadable ``counterVersion`` is a gap even when the count is right: the handler skips
    such an event for good (it changes neither the counter nor an entry), so the count of the
    entries is stable and the repair is the classic one, a ``SET`` of count and version
    conditioned on the exact raw values read (reason ``invalid_version`` when only the version
    is wrong)."""
    before, after = measure.before, measure.after
    if before is None or after is None:
        return CounterLook.VANISHED, None
    if before != after:
        return CounterLook.IN_FLUX, None
    reason = correction_reason(before, measure.present)
    if reason is None:
        return CounterLook.IN_SYNC, None
    return CounterLook.GAP, Correction(measure.key, reason, before, measure.present)


def needs_key_listing(look: CounterLook, present: int, attendees: int) -> bool:
    """Whether an event's keys (entries and attendee items) must be listed and compared.

    Not when present entries = attendee items and the counter was measured still: the
    present count is then the true count, and the counter is either equal to it (``IN_SYNC``)
    or repaired to it (``GAP``: a hand edit or a lost write moved the counter, not the keys).
    Keys that still disagree in pairs (a lost INSERT beside a lost REMOVE) are harmless while
    that holds, because the counter only ever moves by the changes of entries: the first record
    of such a key that moves the truth without moving the counter (or the reverse) makes the
    attendee count differ from the present count, and that pass lists the keys and repairs
    them all. Listing every event's keys on every pass would cost reads proportional to all
    attendees of all events to find nothing; listing them for a counter-only gap (every
    counter after a handler outage of the old kind) would cost the same to find nothing.
    """
    return look is CounterLook.IN_FLUX or present != attendees


def key_repair_written(repaired: Entry, read: Entry | None) -> bool:
    """Whether the entry read back is the one a repair writes (``repaired``: the same position
    with ``present`` flipped). The handler always moves the position when it writes an entry,
    so only that repair (its first attempt, whose response was lost) leaves exactly this
    behind; the counter's ``ADD`` was in the same transaction, so it landed too."""
    return read == repaired


__all__ = [
    "AttendeeRef",
    "CounterLook",
    "KeyDirection",
    "KeyRepair",
    "KeySuspect",
    "LedgerMeasure",
    "confirm_key",
    "judge_measure",
    "key_repair_written",
    "key_suspects",
    "needs_key_listing",
]
