"""The scan sweep's pure side: fold scanned items into per-event tallies, choose the sweep.

A scan sweep reads the whole registration table once (a parallel ``Scan``) instead of two
requests per event. Every worker folds the items of its segment into a :class:`ScanTally`; the
tallies are merged, and each event becomes one :class:`ScannedEvent`: its items, the counter a
scanned event item holds and the number of attendee items scanned for its slug.

Memory is proportional to the number of events (and of the slugs attendee items name), never
to the number of attendees: an attendee item only adds one to its slug's count, and its key (an
e-mail address) is dropped by the adapter before the fold ever sees it.

What the scan is, and is not, used for (the shell, :mod:`reconciler.reconcile.sweep`, relies on
it): a scan is not a snapshot, and it reads an event item and its attendee items in no
particular order. The race-safety argument of :func:`reconciler.reconcile.core.confirm` needs a
first look that reads the counter *before* counting the attendees: then a record applied
before the counter read was written before the count, so it is in both. In a scan an attendee
item may be read before a record lands and the event item after the handler applied it; a
second look could then agree with that skewed pair (a cancellation during the settle window
cancelling out the registration), and the correction would undo a real record. So the scan is
a filter, not a first look: an event the scan finds in sync is in sync (no write follows from
it, and a drift hidden by traffic during the scan is found by a later pass); every other event
gets the usual first look (counter read, then count) and, if still suspect, the usual second
look a settle window later.
"""

from __future__ import annotations

import enum
import math
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field

from reconciler.kernel.model import EventKey
from reconciler.reconcile.core import StoredCounter, reason_for


@dataclass(frozen=True, slots=True)
class ScannedEventItem:
    """An event item as the scan read it (its counter parsed as a consistent read would be)."""

    key: EventKey
    stored: StoredCounter


@dataclass(frozen=True, slots=True)
class ScannedAttendee:
    """One attendee item: only the slug it counts for."""

    slug: str


ScannedItem = ScannedEventItem | ScannedAttendee


@dataclass(slots=True)
class ScanTally:
    """What a scan (or one segment of it) has seen so far."""

    attendees: Counter[str] = field(default_factory=Counter)
    events: dict[str, list[ScannedEventItem]] = field(default_factory=dict)
    items: int = 0
    """Items folded, attendees and events (items of other shapes are dropped by the adapter)."""

    def fold(self, items: Iterable[ScannedItem]) -> None:
        for item in items:
            self.items += 1
            if isinstance(item, ScannedAttendee):
                self.attendees[item.slug] += 1
            else:
                self.events.setdefault(item.key.slug, []).append(item)

    def merge(self, other: ScanTally) -> None:
        self.attendees.update(other.attendees)
        for slug, found in other.events.items():
            self.events.setdefault(slug, []).extend(found)
        self.items += other.items


@dataclass(frozen=True, slots=True)
class ScannedEvent:
    """One slug after the scan: its event items (more than one is ambiguous) and its count."""

    slug: str
    items: tuple[ScannedEventItem, ...]
    counted: int

    @property
    def keys(self) -> tuple[EventKey, ...]:
        return tuple(item.key for item in self.items)

    @property
    def ambiguous(self) -> bool:
        return len(self.items) > 1

    @property
    def in_sync(self) -> bool:
        """What a first look would call in sync (an unreadable version is not); only ever
        used to filter, never to write (see the module docstring)."""
        if self.ambiguous:
            return False
        stored = self.items[0].stored
        return not stored.version_unreadable and reason_for(stored, self.counted) is None


def scanned_events(tally: ScanTally) -> Iterator[ScannedEvent]:
    """Every slug with an event item, in slug order; attendee slugs without one (orphans)
    are left out, as the query sweep never sees them either."""
    for slug in sorted(tally.events):
        found = tally.events[slug]
        items = tuple(sorted(found, key=lambda item: (item.key.sort_key, item.key.partition)))
        yield ScannedEvent(slug, items, tally.attendees.get(slug, 0))


class SweepMode(enum.Enum):
    QUERY = "query"
    SCAN = "scan"
    AUTO = "auto"


SCAN_MAX_MEAN_ATTENDEES = 100.0
"""At most this many attendee items per event on average, a per-event ``Query COUNT`` is one
page (1 MB holds thousands of small items), so the query sweep pays two requests per event for
data a scan reads at about one request per megabyte."""
SCAN_MIN_EVENTS = 1000
"""Below this many events either sweep takes seconds; the query sweep reads less of a table
whose few events are big, so it stays the default there."""


def events_needed(item_count: int) -> int:
    """Event items ``auto`` must count to know its answer: with at least this many the scan is
    chosen (``item_count <= (1 + SCAN_MAX_MEAN_ATTENDEES) * events``), so counting stops there
    and a table of many events costs the decision only a small fraction of its event items."""
    return max(SCAN_MIN_EVENTS, math.ceil(item_count / (1.0 + SCAN_MAX_MEAN_ATTENDEES)))


@dataclass(frozen=True, slots=True)
class TableShape:
    """Figures ``auto`` decides on, read without scanning the table."""

    item_count: int
    """``DescribeTable``'s ``ItemCount``: approximate, refreshed about every six hours."""
    size_bytes: int
    """``DescribeTable``'s ``TableSizeBytes``, as approximate."""
    events: int
    """Event items (a ``Select=COUNT`` query per event partition), counted up to
    :func:`events_needed`: the table may hold more."""

    @property
    def attendee_items(self) -> int:
        """Everything that is not an event item (orphans and other shapes included): an upper
        bound, and never negative when ``ItemCount`` lags behind new events."""
        return max(self.item_count - self.events, 0)

    @property
    def mean_attendees(self) -> float:
        return self.attendee_items / self.events if self.events else 0.0

    def figures(self) -> dict[str, float | int]:
        return {
            "item_count": self.item_count,
            "table_size_bytes": self.size_bytes,
            "events": self.events,
            "mean_attendees_per_event": round(self.mean_attendees, 1),
        }


@dataclass(frozen=True, slots=True)
class SweepChoice:
    mode: SweepMode
    """``QUERY`` or ``SCAN``, never ``AUTO``."""
    reason: str
    shape: TableShape | None = None


def forced_query(requested: SweepMode, *, event: bool, shard: bool) -> SweepChoice | None:
    """The choice made without looking at the table at all, if there is one."""
    if event or shard:
        flag = "--event" if event else "--shard"
        return SweepChoice(SweepMode.QUERY, f"{flag} reads only some events; a scan reads all")
    if requested is SweepMode.QUERY:
        return SweepChoice(SweepMode.QUERY, "--sweep query")
    if requested is SweepMode.SCAN:
        return SweepChoice(SweepMode.SCAN, "--sweep scan")
    return None


def choose_by_shape(shape: TableShape) -> SweepChoice:
    """``auto``: scan many small events, query anything else (see the two thresholds)."""
    if shape.events < SCAN_MIN_EVENTS:
        return SweepChoice(
            SweepMode.QUERY, f"{shape.events} events < {SCAN_MIN_EVENTS}: either is quick", shape
        )
    if shape.mean_attendees > SCAN_MAX_MEAN_ATTENDEES:
        return SweepChoice(
            SweepMode.QUERY,
            f"{shape.mean_attendees:.1f} attendee items per event > "
            f"{SCAN_MAX_MEAN_ATTENDEES:g}: a count per event reads less",
            shape,
        )
    return SweepChoice(
        SweepMode.SCAN,
        f"{shape.events} events of {shape.mean_attendees:.1f} attendee items on average: "
        "one read of the table is cheaper than two requests per event",
        shape,
    )


__all__ = [
    "ScanTally",
    "ScannedAttendee",
    "ScannedEvent",
    "ScannedEventItem",
    "ScannedItem",
    "SweepChoice",
    "SweepMode",
    "TableShape",
    "choose_by_shape",
    "events_needed",
    "forced_query",
    "scanned_events",
]
