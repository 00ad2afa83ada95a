"""Pure: what a batch's records do to the ledger and the counter of one event.

Every delta comes from a state change of one item. A record moves its item to present (INSERT,
MODIFY) or absent (REMOVE); a record at or before the position its entry already holds was
applied before (a duplicate, a retry, a stale re-delivery) and changes nothing. The counter's
delta is the change of ``present`` over the batch, so applying the same records twice, in any
interleaving that keeps each item's own order, adds each state change once.

An item with no entry is one the handler before the ledger counted (or a new one): present
before its first record unless that record is an INSERT. Its entry is created by this batch.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from reconciler.handler.records import AttendeeChange, ChangeKind
from reconciler.kernel.ledger import Entry

MAX_ENTRIES_PER_TRANSACTION = 99
"""DynamoDB takes at most 100 items per transaction; one of them is the counter."""

COUNTER_LIMIT = 10**37
"""DynamoDB numbers keep 38 digits; a count this large is a hand edit or a bug, and an ``ADD``
that overflowed would fail the batch on every retry. It is invalid, never added to."""


@dataclass(frozen=True, slots=True)
class ItemFold:
    """One item's records folded over its entry."""

    item: str
    before: Entry | None
    after: Entry
    was_present: bool
    """The item's state before this batch (for an item with no entry, as the old handler saw it)."""
    applied: int
    """Records newer than the entry's position."""
    skipped: int
    """Records at or before it: applied before, counted as duplicates."""
    write: bool
    """The entry must be written: it is new, or an INSERT or REMOVE was applied (the position
    must then move past that record, or a re-delivery of it, or a replay of an older one,
    would flip it again)."""

    @property
    def delta(self) -> int:
        return int(self.after.present) - int(self.was_present)


def fold(item: str, entry: Entry | None, changes: Sequence[AttendeeChange]) -> ItemFold:
    """Apply one item's records (in stream order) to its entry.

    A MODIFY writes nothing: it leaves the item present, and re-applying it later is harmless.
    An INSERT or a REMOVE newer than the entry moves its position even when it flips nothing
    (an INSERT onto an entry a repair set present): a dropped older record replayed afterwards
    must find itself behind the entry, or it would set the state the newer record replaced.
    """
    ordered = sorted(changes, key=lambda change: change.position)
    last = entry.position if entry is not None else None
    newer = [change for change in ordered if last is None or change.position > last]
    skipped = len(ordered) - len(newer)
    if entry is not None and not newer:
        return ItemFold(item, entry, entry, entry.present, 0, skipped, write=False)
    was_present = entry.present if entry is not None else newer[0].kind is not ChangeKind.INSERT
    present = was_present
    moved = False
    for change in newer:
        present = change.kind is not ChangeKind.REMOVE
        moved = moved or change.kind is not ChangeKind.MODIFY
    if entry is None or moved:
        after = Entry(present, newer[-1].position if newer else None)
        return ItemFold(item, entry, after, was_present, len(newer), skipped, write=True)
    return ItemFold(item, entry, entry, was_present, len(newer), skipped, write=False)


@dataclass(frozen=True, slots=True)
class EventPlan:
    """What one event's records in a batch do: the entries to write and the counter's delta."""

    folds: tuple[ItemFold, ...]

    @property
    def delta(self) -> int:
        return sum(fold.delta for fold in self.folds)

    @property
    def writes(self) -> tuple[ItemFold, ...]:
        return tuple(fold for fold in self.folds if fold.write)

    @property
    def duplicates(self) -> int:
        return sum(fold.skipped for fold in self.folds)


def plan_event(changes: Iterable[AttendeeChange], entries: Mapping[str, Entry | None]) -> EventPlan:
    """Fold every item of one event's changes; ``entries`` holds what was read for each item."""
    by_item: dict[str, list[AttendeeChange]] = {}
    for change in changes:
        by_item.setdefault(change.item, []).append(change)
    return EventPlan(
        tuple(fold(item, entries.get(item), records) for item, records in by_item.items())
    )


def chunks(writes: Sequence[ItemFold]) -> list[tuple[ItemFold, ...]]:
    """Entry writes split into transactions (each also carries the counter's share)."""
    size = MAX_ENTRIES_PER_TRANSACTION
    return [tuple(writes[start : start + size]) for start in range(0, len(writes), size)] or [()]


@dataclass(frozen=True, slots=True)
class CounterRead:
    """The event item's counter as read, raw attributes kept for exact conditions."""

    exists: bool
    count: int | None
    """The integer count; ``None`` when absent (or unusable, see :attr:`invalid`)."""
    invalid: str | None = None
    """Why the counter cannot be added to: ``non_numeric_counter``, ``fractional_counter``,
    ``counter_out_of_range``, ``non_numeric_version``; ``None`` when it can."""
    raw_count: Mapping[str, object] | None = None


@dataclass(frozen=True, slots=True)
class CounterChange:
    """How the counter changes in one transaction."""

    add: int | None
    """``ADD`` this (the fast path); ``None`` when the value is set instead."""
    set_to: int | None = None
    """``SET`` this, on condition of the exact count read (a clamp at zero)."""
    clamped: bool = False


def counter_change(counter: CounterRead, delta: int) -> CounterChange:
    """Never below zero, and never added onto a negative count (the old unclamped handler's
    leftovers, read as zero): both become a ``SET`` of the clamped value."""
    current = counter.count or 0
    if current >= 0 and current + delta >= 0:
        return CounterChange(add=delta)
    return CounterChange(add=None, set_to=max(max(current, 0) + delta, 0), clamped=True)
