"""What the pass needs from the outside world, as Protocols.

The DynamoDB adapter implements them for production; tests/fakes/reconcile.py implements them
in memory. The service depends on these only, never on boto3.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from typing import Protocol

from reconciler.kernel.ledger import Entry
from reconciler.kernel.model import EventKey
from reconciler.reconcile.audit import AuditSink
from reconciler.reconcile.core import Correction, StoredCounter
from reconciler.reconcile.ledger_core import AttendeeRef, KeyRepair
from reconciler.reconcile.rotation_core import Cycle
from reconciler.reconcile.summary import IoStats


@dataclass(frozen=True, slots=True)
class EventGroup:
    """Every event item whose sort key starts with ``<slug>#``: one normally, more if ambiguous."""

    slug: str
    keys: tuple[EventKey, ...]
    listed: StoredCounter | None = None
    """The first item's counter as the listing read it (not consistent; the rotating sweep
    only uses it to choose what to recount, never to decide a write)."""

    @property
    def ambiguous(self) -> bool:
        return len(self.keys) > 1


class EventSource(Protocol):
    def events(self, start: str | None = None, stop: str | None = None) -> Iterator[EventGroup]:
        """Every event, grouped by slug, streamed page by page (never all in memory), in sort
        key order; ``start`` (inclusive) and ``stop`` (exclusive) bound the sort keys."""
        ...

    def event(self, slug: str) -> EventGroup | None:
        """The event items of one slug; ``None`` when there is none."""
        ...


class CounterTable(Protocol):
    def read_counter(self, key: EventKey) -> StoredCounter | None:
        """Consistent read of the counter attributes; ``None`` when the item does not exist."""
        ...

    def count_attendees(self, slug: str) -> int:
        """Consistent count of the slug's attendee items."""
        ...

    def write_correction(self, correction: Correction) -> None:
        """Conditional write; raises :class:`reconciler.kernel.errors.ConflictError` if anything
        differs from ``correction.stored``."""
        ...

    def stats(self) -> IoStats: ...


class LedgerStore(Protocol):
    """The counter's ledger (state table) and the attendee items it describes.

    Every read is strongly consistent. Attendee keys (e-mail addresses) are handed out only as
    :class:`AttendeeRef` values, for the second look at a missing entry.
    """

    def start_pass(self) -> None:
        """Forget what the last pass learnt (whether the state table exists)."""
        ...

    def backfilled(self, slug: str) -> bool:
        """Whether the event's ledger is backfilled; ``False`` when there is no state table."""
        ...

    def count_present(self, slug: str) -> int:
        """The event's entries with ``present = true``, every page."""
        ...

    def entries(self, slug: str) -> Iterator[tuple[str, Entry]]:
        """Every entry of the event (absent ones included), by item hash."""
        ...

    def attendees(self, slug: str) -> Iterator[AttendeeRef]:
        """The keys of the event's attendee items, every page."""
        ...

    def read_entry(self, slug: str, item: str) -> Entry | None: ...

    def attendee_exists(self, attendee: AttendeeRef) -> bool: ...

    def add_to_counter(self, correction: Correction) -> None:
        """``ADD`` the gap between ``correction.counted`` and the stored number, conditioned on
        the counter and its version as read; :class:`ConflictError` otherwise."""
        ...

    def repair_key(self, repair: KeyRepair) -> None:
        """The entry and the counter in one transaction, conditioned on the entry as read;
        :class:`ConflictError` when it was cancelled."""
        ...

    def stats(self) -> IoStats: ...


class RotationStore(Protocol):
    """Where the rotating sweep keeps its cycle and the counters it last found in sync (the
    state table, so that replicas share them and restarts keep them)."""

    def load_cycle(self, scope: str) -> Cycle: ...

    def save_cycle(self, scope: str, cycle: Cycle) -> None:
        """Conditioned on the revision before ``cycle``'s; :class:`ConflictError` when another
        pass saved in between (that pass's cursor stands)."""
        ...

    def records(self, start: str | None, stop: str | None) -> Iterator[tuple[str, str]]:
        """``(record key, fingerprint)`` in key order, ``start`` <= key < ``stop``."""
        ...

    def put_records(self, records: Sequence[tuple[str, str]]) -> None: ...

    def delete_records(self, keys: Sequence[str]) -> None: ...

    def stats(self) -> IoStats: ...


__all__ = [
    "AuditSink",
    "CounterTable",
    "EventGroup",
    "EventSource",
    "IoStats",
    "LedgerStore",
    "RotationStore",
]
