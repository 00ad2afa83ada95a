"""Property: whatever the interleaving of traffic, stream faults, hand edits and ledger-mode
passes running three events at a time, counts end exact and no write ever counts an attendee
twice.

The simulated system: attendees join and leave backfilled events; each change becomes a stream
record that the handler applies within ``MAX_LATENCY`` seconds of virtual time, in order per
attendee, and that may be delivered twice (the ledger adds nothing the second time) or dropped
(a lost record, left to the per-key repair). Every port call of a pass, from whichever worker
thread, first lets the next scripted step happen (under the table's lock, one at a time), so
traffic and deliveries land between any two reads or writes of the concurrent second looks and
repairs. ``SETTLE`` is longer than ``MAX_LATENCY``: the assumption the design rests on.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from reconciler.kernel.model import EventKey
from reconciler.reconcile.audit import FanOutKeyAuditSink
from reconciler.reconcile.core import BrakePolicy
from reconciler.reconcile.reconciler import PassOptions, Reconciler
from reconciler.reconcile.scan_core import SweepMode
from tests.fakes.reconcile import FakeClock, FakeReconcileTable, RecordingAuditSink
from tests.fakes.reconcile_ledger import FakeLedger
from tests.unit.reconciler_support import play

MAX_LATENCY = 10.0
SETTLE = 15.0
CONCURRENCY = 3
SLUGS = ("alpha", "beta", "gamma")
POOL = 5
"""Attendees per event who may join, leave and join again."""
NO_BRAKE = BrakePolicy(max_corrections=1000, max_ratio=1.0, min_events_for_ratio=1000)


def address(slug: str, n: int) -> str:
    return f"{slug}-{n}@example.com"  # the addresses FakeLedger.ledger_event registers


@dataclass
class Record:
    number: int
    slug: str
    person: str
    present: bool
    due: float
    fate: str
    """apply, duplicate or drop: what the stream will do with it."""


@dataclass
class System:
    ledger: FakeLedger
    clock: FakeClock
    keys: dict[str, EventKey]
    members: dict[str, set[str]]
    """The truth: who is registered for each event."""
    pending: list[Record] = field(default_factory=list)
    unconsumed: dict[str, set[int]] = field(default_factory=dict)
    """Attendee -> records no delivery has applied yet (a dropped one stays for good)."""
    edits_up: dict[str, int] = field(default_factory=dict)
    script: list[tuple[tuple[object, ...], bool]] = field(default_factory=list)
    double_counts: list[str] = field(default_factory=list)
    numbers: itertools.count[int] = field(default_factory=itertools.count)
    in_pass: bool = False

    @property
    def table(self) -> FakeReconcileTable:
        return self.ledger.table

    # -- the world moving on (always under the table's lock) -------------------------------

    def flip(self, slug: str, n: int, fate: str, latency: float) -> None:
        person = address(slug, n)
        present = person not in self.members[slug]
        if present:
            self.members[slug].add(person)
            self.ledger.register(slug, person)
        else:
            self.members[slug].discard(person)
            self.ledger.unregister(slug, person)
        # Per-attendee order: a record is never due before an earlier one of the same item.
        earlier = [r.due for r in self.pending if r.person == person]
        record = Record(
            next(self.numbers),
            slug,
            person,
            present,
            max([self.clock.now + latency, *earlier]),
            fate,
        )
        self.pending.append(record)
        self.unconsumed.setdefault(person, set()).add(record.number)

    def resolve(self, record: Record) -> None:
        self.pending.remove(record)
        if record.fate == "drop":
            return
        for _ in range(2 if record.fate == "duplicate" else 1):
            self.ledger.deliver(self.keys[record.slug], record.person, present=record.present)
        self.unconsumed[record.person].discard(record.number)

    def resolve_due(self, _now: float | None = None) -> None:
        with self.table.lock:
            for record in sorted(self.pending, key=lambda r: r.due):
                if record.due <= self.clock.now:
                    self.resolve(record)

    def hand_edit(self, slug: str, delta: int) -> None:
        event = self.table.events_by_key[self.keys[slug]]
        count = event.count if isinstance(event.count, int) else 0
        event.count = max(0, count + delta)
        self.edits_up[slug] = self.edits_up.get(slug, 0) + max(0, delta)

    def step(self, *_: object) -> None:
        """The next scripted step and the ones chained to it, from any thread of a pass; a
        pass asked for inside a pass is skipped, and a pass runs outside the lock (its workers
        take steps too)."""
        while True:
            with self.table.lock:
                if not self.script:
                    return
                action, chained = self.script.pop(0)
                if action[0] != "pass":
                    self.perform(action)
            if action[0] == "pass" and not self.in_pass:
                self.run_pass()
            if not chained:
                return

    def perform(self, action: tuple[object, ...]) -> None:
        kind = action[0]
        if kind == "tick":
            self.sleep(float(action[1]))  # type: ignore[arg-type]
        elif kind == "edit":
            self.hand_edit(SLUGS[int(action[1])], int(action[2]))  # type: ignore[call-overload]
        else:
            slug = SLUGS[int(action[1])]  # type: ignore[call-overload]
            self.flip(slug, int(action[2]), str(action[3]), float(action[4]))  # type: ignore[call-overload,arg-type]

    def sleep(self, seconds: float) -> None:
        """The clock moves under the table's lock: worker threads tick it too."""
        with self.table.lock:
            self.clock.sleep(seconds)

    # -- the invariant checked at every write ----------------------------------------------

    def check_bound(self, after: str) -> None:
        """Never a double count: beyond the truth, a counter holds only attendees whose
        removal is still in flight (or was dropped) and hand edits upwards."""
        with self.table.lock:
            for slug, key in self.keys.items():
                count = self.table.count_of(key)
                truth = len(self.members[slug])
                removing = sum(
                    1
                    for n in range(POOL)
                    if address(slug, n) not in self.members[slug]
                    and self.unconsumed.get(address(slug, n))
                )
                allowed = truth + removing + self.edits_up.get(slug, 0)
                if isinstance(count, int) and count > allowed:
                    self.double_counts.append(f"{after}: {slug} holds {count}, at most {allowed}")

    # -- passes ------------------------------------------------------------------------------

    def run_pass(self) -> None:
        self.in_pass = True
        audit = RecordingAuditSink()
        try:
            summary = Reconciler(
                events=self.table,
                table=self.table,
                audit=audit,
                options=PassOptions(SETTLE, CONCURRENCY, NO_BRAKE, sweep=SweepMode.QUERY),
                clock=self.clock,
                sleep=self.sleep,
                ledger=self.ledger,
                key_audit=FanOutKeyAuditSink(audit),
            ).run_pass()
        finally:
            self.in_pass = False
        assert summary.failed is False, summary.error

    def quiesce(self) -> None:
        self.script.clear()
        self.sleep(MAX_LATENCY + 1)
        assert self.pending == []

    def exact(self) -> bool:
        return all(self.table.count_of(self.keys[s]) == len(self.members[s]) for s in SLUGS)


def build(initial: list[tuple[int, int]]) -> System:
    ledger = FakeLedger(FakeReconcileTable())
    clock = FakeClock()
    keys: dict[str, EventKey] = {}
    members: dict[str, set[str]] = {}
    for slug, (attendees, drift) in zip(SLUGS, initial, strict=True):
        keys[slug] = ledger.ledger_event(slug, attendees)
        members[slug] = {address(slug, n) for n in range(attendees)}
        ledger.table.events_by_key[keys[slug]].count = max(0, attendees + drift)
    system = System(ledger, clock, keys, members)
    # A counter that starts above the truth was edited up by hand.
    system.edits_up = {slug: max(0, drift) for slug, (_, drift) in zip(SLUGS, initial, strict=True)}
    clock.on_sleep = system.resolve_due
    ledger.before_op = system.step
    ledger.table.before_op = system.step
    ledger.after_write = system.check_bound
    return system


fates = st.sampled_from(["apply", "apply", "apply", "duplicate", "drop"])
latencies = st.floats(min_value=0.0, max_value=MAX_LATENCY, allow_nan=False)
steps = st.one_of(
    st.tuples(st.just("flip"), st.integers(0, 2), st.integers(0, POOL - 1), fates, latencies),
    st.tuples(st.just("tick"), st.floats(min_value=0.5, max_value=30.0, allow_nan=False)),
    st.tuples(st.just("edit"), st.integers(0, 2), st.integers(-2, 2)),
    st.just(("pass",)),
)
initial_state = st.lists(
    st.tuples(st.integers(0, 3), st.integers(-2, 2)), min_size=len(SLUGS), max_size=len(SLUGS)
)
scripts = st.lists(st.tuples(steps, st.booleans()), min_size=1, max_size=40)


@settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.too_slow],
    derandomize=True,
)
@given(initial=initial_state, script=scripts)
def test_concurrent_ledger_passes_end_exact_and_never_count_an_attendee_twice(
    initial: list[tuple[int, int]], script: list[tuple[tuple[object, ...], bool]]
) -> None:
    system = build(initial)
    play(system, script)
    assert system.double_counts == []
    assert system.exact(), (
        {s: len(m) for s, m in system.members.items()},
        {s: system.table.count_of(k) for s, k in system.keys.items()},
    )


def test_the_checker_catches_a_key_repair_that_counts_an_attendee_twice() -> None:
    # GIVEN an exact event, and a key repair that adds an attendee the counter already counts
    system = build([(2, 0), (0, 0), (0, 0)])
    key = system.keys["alpha"]
    system.table.handler_add(key, 1)
    # WHEN a write lands
    system.check_bound("a write")
    # THEN the checker says so
    assert system.double_counts == ["a write: alpha holds 3, at most 2"]
