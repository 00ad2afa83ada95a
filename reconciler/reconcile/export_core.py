"""Pure decisions of a recount from an export: which events the snapshot suspects.

The export is a consistent snapshot: each event's counter and its attendee items as they all
were at one instant. It plays the first look of the race-safety argument in
:mod:`reconciler.reconcile.core`: a suspect is corrected only if one live look, started at least
a settle window after the export time, sees the same count, the same stored value and the same
``counterVersion`` (:func:`reconciler.reconcile.core.confirm`, with the snapshot as the first
look). A record in flight at the export instant (the attendee written, its counter
update not yet applied) is applied by the handler within the settle window and moves the
version; so does any registration after the export. Either way the live look disagrees and the
event is in flux, never corrected.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Iterator
from dataclasses import dataclass

from reconciler.kernel.model import EventKey
from reconciler.reconcile.core import Reason, StoredCounter, correction_reason


@dataclass(frozen=True, slots=True)
class SnapshotRow:
    """One slug as the export saw it."""

    slug: str
    keys: tuple[EventKey, ...]
    """Its event items; more than one makes the slug ambiguous."""
    stored: StoredCounter
    """The counter attributes of the first event item (in sort key order)."""
    counted: int
    """Attendee items of the slug in the same snapshot."""

    @property
    def ambiguous(self) -> bool:
        return len(self.keys) > 1


@dataclass(frozen=True, slots=True)
class InSyncEvents:
    """Events an engine found in sync on its own and counted instead of listing them: each has
    one event item, a counter that is exactly the integer of its count and a readable version
    or none, so :func:`judge` could only say :attr:`SnapshotVerdict.IN_SYNC`. On a large table
    nearly every event is one, and listing them is most of the Python side's work."""

    events: int


SnapshotRows = Iterator[SnapshotRow | InSyncEvents]
"""What an engine yields: the slugs it lists, sorted, and the ones it only counted."""


class SnapshotVerdict(enum.Enum):
    IN_SYNC = "in_sync"
    SUSPECT = "suspect"
    AMBIGUOUS = "ambiguous"
    """Two event items share the slug: reported, never corrected (which one would it be?)."""


@dataclass(frozen=True, slots=True)
class Suspect:
    row: SnapshotRow
    reason: Reason

    @property
    def key(self) -> EventKey:
        return self.row.keys[0]


@dataclass(slots=True)
class SnapshotTally:
    """What a sweep of the snapshot found, for the pass summary."""

    events: int = 0
    in_sync: int = 0
    suspects: int = 0
    ambiguous: int = 0


def judge(row: SnapshotRow) -> tuple[SnapshotVerdict, Reason | None]:
    """The snapshot's verdict on one slug: a counter that differs from the count, is missing
    or is not an integer (or whose version is unreadable) makes a suspect."""
    if row.ambiguous:
        return SnapshotVerdict.AMBIGUOUS, None
    reason = correction_reason(row.stored, row.counted)
    if reason is None:
        return SnapshotVerdict.IN_SYNC, None
    return SnapshotVerdict.SUSPECT, reason


def suspects(
    rows: Iterable[SnapshotRow | InSyncEvents],
    tally: SnapshotTally,
    ambiguous: list[str] | None = None,
) -> Iterator[Suspect]:
    """The suspects among ``rows``, streamed; ``tally`` counts every verdict and ``ambiguous``,
    when given, collects the ambiguous slugs for the report."""
    for row in rows:
        if isinstance(row, InSyncEvents):
            tally.events += row.events
            tally.in_sync += row.events
            continue
        tally.events += 1
        verdict, reason = judge(row)
        if verdict is SnapshotVerdict.IN_SYNC:
            tally.in_sync += 1
        elif verdict is SnapshotVerdict.AMBIGUOUS:
            tally.ambiguous += 1
            if ambiguous is not None:
                ambiguous.append(row.slug)
        elif reason is not None:
            tally.suspects += 1
            yield Suspect(row, reason)
