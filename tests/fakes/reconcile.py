"""In-memory fakes of the reconciliation ports (reconciler.reconcile.ports).

``FakeReconcileTable`` keeps event counters and attendee counts in dicts and enforces the same
write condition as the DynamoDB adapter (version and stored value exactly as seen). Tests steer
interleavings with ``before_op``: a callback run before every port call, which may change the
table (a registration, a handler delivery) exactly between two steps of the pass.
"""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from zlib import crc32

from reconciler.kernel.errors import ConflictError, ReconcilerError
from reconciler.kernel.model import EventKey
from reconciler.reconcile.audit import AuditRecord, KeyRepairRecord
from reconciler.reconcile.core import Correction, CounterKind, StoredCounter
from reconciler.reconcile.ports import EventGroup, IoStats
from reconciler.reconcile.scan_core import ScannedAttendee, ScannedEventItem, ScannedItem
from reconciler.reconcile.summary import AwsErrorKey

MISSING = object()
"""Sentinel: the event item has no counter attribute."""


@dataclass
class FakeEvent:
    count: object = 0
    """An int is a number; MISSING is absent; anything else is a non-numeric counter."""
    version: int | None = 0
    version_raw: object = None
    """Set to a non-int to simulate an unreadable counterVersion."""


@dataclass
class FakeReconcileTable:
    events_by_key: dict[EventKey, FakeEvent] = field(default_factory=dict)
    attendees: Counter[str] = field(default_factory=Counter)
    before_op: Callable[[str, str], None] | None = None
    """Called with (operation, slug) before every read or write."""
    failures: dict[str, ReconcilerError] = field(default_factory=dict)
    """Operation name -> error raised instead of performing it."""
    writes: list[Correction] = field(default_factory=list)
    refused: list[Correction] = field(default_factory=list)
    requests: Counter[str] = field(default_factory=Counter)
    errors: Counter[AwsErrorKey] = field(default_factory=Counter)
    after_write: Callable[[Correction], None] | None = None
    """Called (under the table's lock) right after a successful conditional write."""
    handler_keeps_version: bool = True
    """False plays a handler that never bumps ``counterVersion`` (the fallback case)."""
    listed: int = 0
    """Event items handed out by events() so far (shows the listing is lazy)."""
    attendees_first: bool = False
    """The scan reads an event's attendee items before its event item (a scan has no order)."""
    lock: threading.RLock = field(default_factory=threading.RLock)

    # -- test set-up helpers -------------------------------------------------------------------

    def add_event(
        self,
        slug: str,
        count: object = 0,
        *,
        attendees: int | None = None,
        version: int | None = 0,
        partition: str = "EVENT",
        suffix: str = "2024-10-27#conference",
    ) -> EventKey:
        key = EventKey(partition, f"{slug}#{suffix}")
        self.events_by_key[key] = FakeEvent(count=count, version=version)
        if attendees is not None:
            self.attendees[slug] = attendees
        elif isinstance(count, int):
            self.attendees[slug] = count
        return key

    def count_of(self, key: EventKey) -> object:
        return self.events_by_key[key].count

    def handler_add(self, key: EventKey, delta: int) -> None:
        """What the live handler does for an applied batch: ADD to the count, bump the version."""
        with self.lock:
            event = self.events_by_key[key]
            current = event.count if isinstance(event.count, int) else 0
            event.count = max(0, current + delta)
            if self.handler_keeps_version:
                event.version = (event.version or 0) + 1

    # -- ports ---------------------------------------------------------------------------------

    def _enter(self, operation: str, slug: str) -> None:
        if self.before_op is not None:
            self.before_op(operation, slug)
        with self.lock:
            self.requests[operation] += 1
        error = self.failures.get(operation)
        if error is not None:
            with self.lock:
                self.errors[AwsErrorKey(operation, type(error).__name__)] += 1
            raise error

    def events(self, start: str | None = None, stop: str | None = None) -> Iterator[EventGroup]:
        self._enter("ListEvents", "")
        keys = [
            k
            for k in sorted(self.events_by_key, key=lambda k: k.sort_key)
            if (start is None or k.sort_key >= start) and (stop is None or k.sort_key < stop)
        ]
        groups: dict[str, list[EventKey]] = {}
        order: list[str] = []
        for key in keys:
            if key.slug not in groups:
                order.append(key.slug)
                groups[key.slug] = []
            groups[key.slug].append(key)
        for slug in order:
            self.listed += len(groups[slug])
            first = groups[slug][0]
            with self.lock:
                event = self.events_by_key.get(first)
                listed = stored_counter(event) if event is not None else None
            yield EventGroup(slug, tuple(groups[slug]), listed=listed)

    def event(self, slug: str) -> EventGroup | None:
        self._enter("FindEvent", slug)
        keys = tuple(
            k for k in sorted(self.events_by_key, key=lambda k: k.sort_key) if k.slug == slug
        )
        return EventGroup(slug, keys) if keys else None

    def read_counter(self, key: EventKey) -> StoredCounter | None:
        self._enter("GetItem", key.slug)
        with self.lock:
            event = self.events_by_key.get(key)
            if event is None:
                return None
            return stored_counter(event)

    def count_attendees(self, slug: str) -> int:
        self._enter("Query", slug)
        with self.lock:
            return self.attendees[slug]

    def write_correction(self, correction: Correction) -> None:
        self._enter("UpdateItem", correction.key.slug)
        with self.lock:
            event = self.events_by_key.get(correction.key)
            if event is None or stored_counter(event) != correction.stored:
                self.refused.append(correction)
                raise ConflictError("UpdateItem: condition failed")
            event.count = correction.counted
            event.version = correction.version_after
            event.version_raw = None
            self.writes.append(correction)
            if self.after_write is not None:
                self.after_write(correction)

    # -- TableScan -----------------------------------------------------------------------------

    def segment(self, segment: int, total: int) -> Iterator[list[ScannedItem]]:
        """Items spread over segments by a hash of their key, one page per slug, each read
        when asked for. ``before_op("Scan", slug)`` runs before a page and
        ``before_op("ScanRest", slug)`` between its attendee items and its event items, so a
        test can change the table in the middle of a scan, even between those two reads."""
        slugs = sorted({k.slug for k in self.events_by_key} | set(self.attendees))
        for slug in slugs:
            self._enter("Scan", slug)
            first, second = (
                (self._scanned_attendees, self._scanned_events)
                if self.attendees_first
                else (self._scanned_events, self._scanned_attendees)
            )
            page = first(slug, segment, total)
            if self.before_op is not None:
                self.before_op("ScanRest", slug)
            yield page + second(slug, segment, total)

    def _scanned_events(self, slug: str, segment: int, total: int) -> list[ScannedItem]:
        with self.lock:
            return [
                ScannedEventItem(key, stored_counter(event))
                for key, event in sorted(self.events_by_key.items(), key=lambda kv: kv[0].sort_key)
                if key.slug == slug and crc32(key.sort_key.encode()) % total == segment
            ]

    def _scanned_attendees(self, slug: str, segment: int, total: int) -> list[ScannedItem]:
        with self.lock:
            return [
                ScannedAttendee(slug)
                for i in range(self.attendees[slug])
                if crc32(f"{slug}-{i}".encode()) % total == segment
            ]

    def describe(self) -> tuple[int, int]:
        self._enter("DescribeTable", "")
        with self.lock:
            items = len(self.events_by_key) + sum(self.attendees.values())
        return items, 100 * items

    def count_events(self, up_to: int) -> int:
        self._enter("CountEvents", "")
        with self.lock:
            return min(len(self.events_by_key), up_to)

    def stats(self) -> IoStats:
        with self.lock:
            return IoStats(
                requests=dict(self.requests),
                read_units=float(self.requests["GetItem"] + self.requests["Query"]),
                write_units=float(self.requests["UpdateItem"]),
                errors=dict(self.errors),
            )


def stored_counter(event: FakeEvent) -> StoredCounter:
    """The same interpretation the DynamoDB adapter applies to a real item."""
    unreadable = event.version_raw is not None and not isinstance(event.version_raw, int)
    version = None if unreadable else event.version
    version_raw = (
        json.dumps({"S": str(event.version_raw)}, separators=(",", ":")) if unreadable else None
    )
    if event.count is MISSING:
        return StoredCounter(
            CounterKind.MISSING,
            version=version,
            version_unreadable=unreadable,
            version_raw=version_raw,
        )
    if isinstance(event.count, int) and not isinstance(event.count, bool):
        return StoredCounter(
            CounterKind.NUMBER,
            value=event.count,
            raw=json.dumps({"N": str(event.count)}, separators=(",", ":")),
            version=version,
            version_unreadable=unreadable,
            version_raw=version_raw,
        )
    return StoredCounter(
        CounterKind.INVALID,
        raw=json.dumps({"S": str(event.count)}, separators=(",", ":")),
        version=version,
        version_unreadable=unreadable,
        version_raw=version_raw,
    )


@dataclass
class RecordingAuditSink:
    records: list[AuditRecord] = field(default_factory=list)
    """Outcome and resolution lines, in order (what happened to each correction)."""
    key_records: list[KeyRepairRecord] = field(default_factory=list)
    """Key repairs' outcome and resolution lines."""
    key_intents: list[KeyRepairRecord] = field(default_factory=list)
    intents: list[AuditRecord] = field(default_factory=list)
    """Intent lines, written before each write."""
    order: list[str] = field(default_factory=list)
    """The phase of every line in the order written (shows intent precedes outcome)."""

    def write(self, record: AuditRecord) -> None:
        self.order.append(record.phase)
        (self.intents if record.phase == "intent" else self.records).append(record)

    def write_key_repair(self, record: KeyRepairRecord) -> None:
        self.order.append(f"key_{record.phase}")
        (self.key_intents if record.phase == "intent" else self.key_records).append(record)


@dataclass
class FakeClock:
    """Monotonic time that only moves when the pass sleeps; ``on_sleep`` runs after each move,
    so a test can deliver stream records 'during' the settle window."""

    now: float = 1000.0
    slept: list[float] = field(default_factory=list)
    on_sleep: Callable[[float], None] | None = None

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds
        if self.on_sleep is not None:
            self.on_sleep(self.now)


REQUIRED_SUMMARY_KEYS = frozenset(
    {
        "run_id",
        "events_checked",
        "in_sync",
        "drifted",
        "corrected",
        "conflicts",
        "in_flux",
        "ambiguous",
        "initialized",
        "invalid",
        "brake_tripped",
        "dry_run",
        "consumed_read_units",
        "duration_seconds",
    }
)
"""The keys issue 3 requires in the summary line of every pass."""
