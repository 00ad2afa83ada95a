"""An in-memory ledger store (reconciler.reconcile.ports.LedgerStore) beside the fake table.

Entries and attendees live in dicts; the counter is the :class:`FakeReconcileTable`'s, so a
repair moves both under one lock, as the real transaction does. ``before_op`` runs before every
call, so a test can change the world between two steps of the pass.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from reconciler.kernel.errors import ConflictError
from reconciler.kernel.ledger import Entry, Position
from reconciler.kernel.model import EventKey
from reconciler.reconcile.core import Correction
from reconciler.reconcile.ledger_core import AttendeeRef, KeyRepair
from reconciler.reconcile.ports import IoStats
from tests.fakes.reconcile import FakeReconcileTable, stored_counter


def attendee(slug: str, address: str) -> AttendeeRef:
    return AttendeeRef(f"{slug}#ATTENDEE", address)


def lose_response(*operations: str) -> Callable[[str], None]:
    """An ``after_write`` for which each of ``operations`` lands but reports a conflict."""

    def refuse_the_retry(operation: str) -> None:
        if operation in operations:
            raise ConflictError(f"{operation}: condition failed (the retry of a landed write)")

    return refuse_the_retry


@dataclass
class FakeLedger:
    table: FakeReconcileTable
    backfilled_slugs: set[str] = field(default_factory=set)
    entries_by_slug: dict[str, dict[str, Entry]] = field(default_factory=dict)
    attendees_by_slug: dict[str, dict[str, AttendeeRef]] = field(default_factory=dict)
    before_op: Callable[[str], None] | None = None
    requests: Counter[str] = field(default_factory=Counter)
    key_writes: list[KeyRepair] = field(default_factory=list)
    sequence: int = 0
    after_write: Callable[[str], None] | None = None
    """Runs with the operation (``AddToCounter``, ``RepairKey``) right after its write landed:
    raising :class:`ConflictError` plays a lost response whose retry botocore's own condition
    refused (see :func:`lose_response`), another exception a process killed before it heard
    back."""

    # -- the world -----------------------------------------------------------------------------

    def ledger_event(self, slug: str, attendees: int) -> EventKey:
        """A backfilled event whose counter, entries and attendees agree."""
        key = self.table.add_event(slug, attendees, attendees=0)
        self.backfilled_slugs.add(slug)
        for i in range(attendees):
            ref = self.register(slug, f"{slug}-{i}@example.com")
            self.entries_by_slug.setdefault(slug, {})[ref.item] = Entry(True)
        return key

    def register(self, slug: str, address: str) -> AttendeeRef:
        """The attendee item only (its INSERT not applied yet, or lost)."""
        ref = attendee(slug, address)
        with self.table.lock:
            self.attendees_by_slug.setdefault(slug, {})[ref.item] = ref
            self.table.attendees[slug] += 1
        return ref

    def unregister(self, slug: str, address: str) -> None:
        with self.table.lock:
            del self.attendees_by_slug[slug][attendee(slug, address).item]
            self.table.attendees[slug] -= 1

    def deliver(self, key: EventKey, address: str, *, present: bool) -> int:
        """The handler applying one record: the entry flips, the counter moves by the change."""
        item = attendee(key.slug, address).item
        with self.table.lock:
            entries = self.entries_by_slug.setdefault(key.slug, {})
            before = entries.get(item)
            if before is not None and before.present == present:
                return 0
            self.sequence += 1
            entries[item] = Entry(present, Position("s", f"{self.sequence:040d}"))
            delta = 1 if present else -1
            self.table.handler_add(key, delta)
            return delta

    def entry(self, slug: str, address: str) -> Entry | None:
        return self.entries_by_slug.get(slug, {}).get(attendee(slug, address).item)

    # -- the port ------------------------------------------------------------------------------

    def _enter(self, operation: str) -> None:
        if self.before_op is not None:
            self.before_op(operation)
        self.requests[operation] += 1

    def start_pass(self) -> None:
        return None

    def backfilled(self, slug: str) -> bool:
        self._enter("Backfilled")
        return slug in self.backfilled_slugs

    def count_present(self, slug: str) -> int:
        self._enter("CountPresent")
        with self.table.lock:
            return sum(e.present for e in self.entries_by_slug.get(slug, {}).values())

    def entries(self, slug: str) -> Iterator[tuple[str, Entry]]:
        self._enter("Entries")
        with self.table.lock:
            listed = list(self.entries_by_slug.get(slug, {}).items())
        yield from listed

    def attendees(self, slug: str) -> Iterator[AttendeeRef]:
        self._enter("Attendees")
        with self.table.lock:
            listed = list(self.attendees_by_slug.get(slug, {}).values())
        yield from listed

    def read_entry(self, slug: str, item: str) -> Entry | None:
        self._enter("ReadEntry")
        with self.table.lock:
            return self.entries_by_slug.get(slug, {}).get(item)

    def attendee_exists(self, ref: AttendeeRef) -> bool:
        self._enter("AttendeeExists")
        slug = ref.pk.removesuffix("#ATTENDEE")
        with self.table.lock:
            return ref.item in self.attendees_by_slug.get(slug, {})

    def add_to_counter(self, correction: Correction) -> None:
        self._enter("AddToCounter")
        with self.table.lock:
            event = self.table.events_by_key.get(correction.key)
            if event is None or stored_counter(event) != correction.stored:
                raise ConflictError("UpdateItem: condition failed")
            event.count = correction.counted
            event.version = (event.version or 0) + 1
        self._landed("AddToCounter")

    def repair_key(self, repair: KeyRepair) -> None:
        self._enter("RepairKey")
        with self.table.lock:
            entries = self.entries_by_slug.setdefault(repair.event.slug, {})
            event = self.table.events_by_key.get(repair.event)
            count = event.count if event is not None else None
            if (
                entries.get(repair.item) != repair.before
                or not isinstance(count, int)
                or count + repair.delta < 0
                or event is None
            ):
                raise ConflictError("TransactWriteItems: cancelled")
            entries[repair.item] = repair.entry
            event.count = count + repair.delta
            event.version = (event.version or 0) + 1
            self.key_writes.append(repair)
        self._landed("RepairKey")

    def _landed(self, operation: str) -> None:
        if self.after_write is not None:
            self.after_write(operation)

    def stats(self) -> IoStats:
        return IoStats(requests=dict(self.requests))
