"""What the pass needs from the outside world, as Protocols.

The DynamoDB adapter implements them for production; tests/fakes/reconcile.py implements them
in memory. The service depends on these only, never on boto3.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Protocol

from reconciler.kernel.model import EventKey
from reconciler.reconcile.audit import AuditSink
from reconciler.reconcile.core import Correction, StoredCounter


@dataclass(frozen=True, slots=True)
class EventGroup:
    """Every event item whose sort key starts with ``<slug>#``: one normally, more if ambiguous."""

    slug: str
    keys: tuple[EventKey, ...]

    @property
    def ambiguous(self) -> bool:
        return len(self.keys) > 1


@dataclass(frozen=True, slots=True)
class IoStats:
    """Cumulative I/O of an adapter; the service reports the difference over one pass."""

    requests: Mapping[str, int] = field(default_factory=dict)
    read_units: float = 0.0
    write_units: float = 0.0
    errors: Mapping[str, int] = field(default_factory=dict)
    """``"<Operation>:<ErrorCode>"`` -> attempts that failed so (retried ones included)."""

    def minus(self, earlier: IoStats) -> IoStats:
        return IoStats(
            requests=_subtract(self.requests, earlier.requests),
            read_units=self.read_units - earlier.read_units,
            write_units=self.write_units - earlier.write_units,
            errors=_subtract(self.errors, earlier.errors),
        )


def _subtract(now: Mapping[str, int], before: Mapping[str, int]) -> dict[str, int]:
    result = {key: value - before.get(key, 0) for key, value in now.items()}
    return {key: value for key, value in sorted(result.items()) if value}


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
