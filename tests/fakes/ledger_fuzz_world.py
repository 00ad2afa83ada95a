"""The fuzzer's world: registration table, counters and ledger entries in memory.

Every write is applied atomically under the conditions the DynamoDB adapters state: a handler
commit (reconciler.handler.ledger_store) conditions each written entry on what was read and
the counter's ``ADD`` on staying non-negative (a ``SET`` on the exact count read); a counter
repair (reconciler.reconcile.ledger_dynamo.add_to_counter) on the version and count measured;
a key repair on the entry as read and a numeric count (at least 1 for a ``-1``). A write whose
conditions fail changes nothing and reports a conflict, as a cancelled transaction does.

The checker lives here too: it keeps, per item, the records no successful delivery has
consumed yet, so the bound "counter <= truth + items whose removal is still in flight + hand
edits upwards" can be tested after every write without trusting the ledger it checks.
"""

from __future__ import annotations

from collections import Counter as Tally
from collections.abc import Iterable
from dataclasses import dataclass, field

from reconciler.handler.ledger import CounterChange, CounterRead, ItemFold
from reconciler.handler.records import AttendeeChange, ChangeKind
from reconciler.kernel.ledger import Entry
from reconciler.kernel.model import EventKey, pad_sequence
from reconciler.reconcile.core import Correction, CounterKind, StoredCounter
from reconciler.reconcile.ledger_core import AttendeeRef, KeyRepair

STREAM_LABEL = "2026-01-01T00:00:00.000"


@dataclass
class Counter:
    key: EventKey
    count: int = 0
    version: int = 0
    edits_up: int = 0
    """Hand edits upwards since the counter was last repaired against the ledger."""


@dataclass
class World:
    counters: dict[str, Counter] = field(default_factory=dict)
    entries: dict[tuple[str, str], Entry] = field(default_factory=dict)
    refs: dict[str, AttendeeRef] = field(default_factory=dict)
    """Item hash -> the attendee's key."""
    slug_of: dict[str, str] = field(default_factory=dict)
    by_slug: dict[str, list[str]] = field(default_factory=dict)
    present: set[str] = field(default_factory=set)
    """Items present in the registration table: the truth."""
    unconsumed: dict[str, set[str]] = field(default_factory=dict)
    """Item -> sequence numbers of its records no successful delivery has consumed yet."""
    sequence: int = 100
    violations: list[str] = field(default_factory=list)
    in_flight_at_repair: dict[str, set[str]] = field(default_factory=dict)
    """Item -> its records not yet consumed when a key repair wrote its entry."""
    seen: Tally[str] = field(default_factory=Tally)
    """What the schedule exercised (a repair racing a record of its key, a refused write...)."""

    # -- set-up and traffic ----------------------------------------------------------------

    def add_event(self, slug: str, attendees: int, backfilled: int) -> None:
        self.counters[slug] = Counter(EventKey("EVENT", f"{slug}#2026-01-01#talk"))
        self.by_slug[slug] = []
        for n in range(attendees):
            ref = AttendeeRef(f"{slug}#ATTENDEE", f"a{n}@example.com")
            item = ref.item
            self.refs[item] = ref
            self.slug_of[item] = slug
            self.by_slug[slug].append(item)
            self.unconsumed[item] = set()
            if n < backfilled:
                # Registered before the ledger; ``init --backfill`` gave it a present entry.
                self.present.add(item)
                self.entries[(slug, item)] = Entry(True)
                self.counters[slug].count += 1

    def items(self, slug: str) -> list[str]:
        return self.by_slug[slug]

    def write_attendee(self, item: str, present: bool) -> AttendeeChange:
        """A registration (or a cancellation, or an edit) and the stream record it makes."""
        was = item in self.present
        if present and was:
            kind = ChangeKind.MODIFY
        elif present:
            kind = ChangeKind.INSERT
            self.present.add(item)
        else:
            kind = ChangeKind.REMOVE
            self.present.discard(item)
        self.sequence += 1
        number = str(self.sequence)
        self.unconsumed[item].add(number)
        slug = self.slug_of[item]
        return AttendeeChange(
            slug, kind, pad_sequence(number), number, item=item, label=STREAM_LABEL
        )

    def hand_edit(self, slug: str, delta: int) -> None:
        counter = self.counters[slug]
        delta = max(delta, -counter.count)
        counter.count += delta
        counter.edits_up += max(delta, 0)
        self.seen["hand edit"] += 1
        self.check_bound(slug, "hand edit")

    # -- the handler's port ------------------------------------------------------------------

    def read_for_handler(
        self, slug: str, items: Iterable[str]
    ) -> tuple[CounterRead, dict[str, Entry | None]]:
        counter = self.counters[slug]
        read = CounterRead(True, counter.count, None, {"N": str(counter.count)})
        return read, {item: self.entries.get((slug, item)) for item in items}

    def commit(
        self, slug: str, read: CounterRead, change: CounterChange, writes: Iterable[ItemFold]
    ) -> bool:
        counter = self.counters[slug]
        folds = list(writes)
        if any(self.entries.get((slug, fold.item)) != fold.before for fold in folds):
            self.seen["handler conflict"] += 1
            return False
        if change.add is None:
            if counter.count != read.count:
                return False
            counter.count = change.set_to or 0
        elif counter.count < max(-change.add, 0):
            return False
        else:
            counter.count += change.add
        counter.version += 1
        for fold in folds:
            self.entries[(slug, fold.item)] = fold.after
        self.check_bound(slug, "handler commit")
        return True

    def consumed(self, records: Iterable[AttendeeChange]) -> None:
        for record in records:
            self.unconsumed[record.item].discard(record.sequence_number)
            waiting = self.in_flight_at_repair.get(record.item, set())
            if record.sequence_number in waiting:
                # The commutation: a record of the key lands after the repair.
                waiting.discard(record.sequence_number)
                self.seen["record applied after a repair of its key"] += 1

    # -- the reconciler's port ---------------------------------------------------------------

    def read_counter(self, slug: str) -> StoredCounter:
        counter = self.counters[slug]
        return StoredCounter(CounterKind.NUMBER, counter.count, str(counter.count), counter.version)

    def count_present(self, slug: str) -> int:
        return sum(1 for (owner, _), e in self.entries.items() if owner == slug and e.present)

    def ledger_of(self, slug: str) -> dict[str, Entry]:
        return {item: e for (owner, item), e in self.entries.items() if owner == slug}

    def attendees(self, slug: str) -> list[AttendeeRef]:
        return [self.refs[item] for item in self.items(slug) if item in self.present]

    def read_entry(self, slug: str, item: str) -> Entry | None:
        return self.entries.get((slug, item))

    def add_to_counter(self, correction: Correction, measured: int, *, guarded: bool) -> bool:
        """``ADD`` the gap on condition of the version and count measured (``guarded=False``
        drops the conditions: the control that proves the stale-look check bites)."""
        slug = correction.key.slug
        counter, stored = self.counters[slug], correction.stored
        if guarded and (counter.version != stored.version or counter.count != stored.value):
            self.seen["counter repair refused"] += 1
            return False
        now = self.count_present(slug)
        if now != measured:
            self.violations.append(
                f"stale look: counter repair for {slug} measured {measured} present, "
                f"{now} at its write"
            )
        counter.count += correction.delta or 0
        counter.version += 1
        counter.edits_up = 0
        self.seen["counter repair"] += 1
        self.check_bound(slug, "counter repair")
        return True

    def repair_key(self, repair: KeyRepair) -> bool:
        slug = repair.event.slug
        counter = self.counters[slug]
        current = self.entries.get((slug, repair.item))
        if current != repair.before or counter.count < max(-repair.delta, 0):
            self.seen["key repair refused"] += 1
            return False
        if (current is not None and current.present) == repair.entry.present:
            self.violations.append(f"stale look: key repair of {slug} flips nothing")
        self.entries[(slug, repair.item)] = repair.entry
        counter.count += repair.delta
        counter.version += 1
        self.seen["key repair"] += 1
        self.in_flight_at_repair[repair.item] = set(self.unconsumed[repair.item])
        self.check_bound(slug, "key repair")
        return True

    # -- the checker -------------------------------------------------------------------------

    def check_bound(self, slug: str, after: str) -> None:
        """Never a double count: whatever the counter holds beyond the truth is explained by
        removals not yet delivered and by hand edits upwards."""
        counter = self.counters[slug]
        items = self.items(slug)
        truth = sum(1 for item in items if item in self.present)
        removing = sum(1 for item in items if item not in self.present and self.unconsumed[item])
        if counter.count > truth + removing + counter.edits_up:
            self.violations.append(
                f"double count after {after}: {slug} holds {counter.count}, truth {truth}, "
                f"{removing} removals in flight, {counter.edits_up} edited up"
            )

    def check_quiescent(self) -> None:
        """After everything was delivered and two repair rounds: the counter exact, and every
        entry agreeing with the table unless the entries' count does (a pass does not list the
        keys of an event whose counter, present entries and attendees agree: keys that disagree
        in pairs are harmless to the count until they make those counts differ)."""
        for slug, counter in self.counters.items():
            truth = sum(1 for item in self.items(slug) if item in self.present)
            if counter.count != truth:
                self.violations.append(f"{slug}: counter {counter.count} != truth {truth}")
            if self.count_present(slug) == truth:
                continue
            for item in self.items(slug):
                entry = self.entries.get((slug, item))
                counted = entry is not None and entry.present
                if counted != (item in self.present):
                    self.violations.append(f"{slug}: an entry disagrees with the table")
