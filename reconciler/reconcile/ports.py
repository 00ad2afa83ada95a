"""What the pass needs from the outside world, as Protocols.

The DynamoDB adapter implements them for production; tests/fakes/reconcile.py implements them
in memory. The service depends on these only, never on boto3.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import Protocol

from reconciler.kernel.model import EventKey
from reconciler.reconcile.audit import AuditSink
from reconciler.reconcile.core import Correction, StoredCounter
from reconciler.reconcile.summary import IoStats


@dataclass(frozen=True, slots=True)
class EventGroup:
    """Every event item whose sort key starts with ``<slug>#``: one normally, more if ambiguous."""

    slug: str
    keys: tuple[EventKey, ...]

    @property
    def ambiguous(self) -> bool:
        return len(self.keys) > 1


class EventSource(Protocol):
    def events(self) -> Iterator[EventGroup]:
        """Every event, grouped by slug, streamed page by page (never all in memory)."""
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


__all__ = ["AuditSink", "CounterTable", "EventGroup", "EventSource", "IoStats"]
