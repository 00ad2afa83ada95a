"""The ledger path's second looks and repairs run ``--concurrency`` events at once, while the
writes of one event (its counter repair, its key repairs: all on its counter item) never
overlap; a failed write starts no new event and what was written before it still counts."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field

from reconciler.kernel.errors import AwsError, LeaseLostError
from reconciler.kernel.ledger import Entry
from reconciler.kernel.model import EventKey
from reconciler.reconcile.core import Correction, CounterKind, Reason, StoredCounter
from reconciler.reconcile.ledger_core import KeyDirection, KeyRepair
from reconciler.reconcile.ledger_tally import LedgerWork
from reconciler.reconcile.pass_control import PassControl
from reconciler.reconcile.summary import StopReason
from tests.fakes.reconcile import FakeReconcileTable
from tests.fakes.reconcile_ledger import FakeLedger
from tests.unit.reconciler_support import ledger_world as world
from tests.unit.reconciler_support import run_ledger as run

BARRIER_TIMEOUT = 10.0
"""Only a safeguard: a phase run one event at a time breaks the barrier instead of hanging."""
OVERLAP_WINDOW = 0.5
"""How long the first write of the watched event holds its place, so that a second write of
the same event, were it allowed to run beside it, would be seen running."""


def events_with_a_lost_insert(ledger: FakeLedger, count: int) -> list[EventKey]:
    keys = []
    for i in range(count):
        keys.append(ledger.ledger_event(f"fest-{i}", 2))
        ledger.register(f"fest-{i}", f"late-{i}@example.com")  # its INSERT never arrived
    return keys


def meet_at(barrier: threading.Barrier, operation: str, ledger: FakeLedger) -> None:
    def hook(called: str) -> None:
        if called == operation:
            barrier.wait()

    ledger.before_op = hook


def test_second_looks_of_different_events_run_concurrently() -> None:
    # GIVEN four events with a lost registration each, and entry reads that block until four
    # arrive together (entries are read only by the second looks here)
    ledger = world()
    keys = events_with_a_lost_insert(ledger, 4)
    meet_at(threading.Barrier(4, timeout=BARRIER_TIMEOUT), "ReadEntry", ledger)
    # WHEN one pass runs four at a time
    summary, _ = run(ledger, concurrency=4)
    # THEN the four second looks met and all four keys were repaired
    assert summary.failed is False, summary.error
    assert summary.key_repairs_missing == 4
    assert [ledger.table.count_of(key) for key in keys] == [3, 3, 3, 3]


def test_key_repairs_of_different_events_are_written_concurrently() -> None:
    ledger = world()
    events_with_a_lost_insert(ledger, 4)
    meet_at(threading.Barrier(4, timeout=BARRIER_TIMEOUT), "RepairKey", ledger)

    summary, audit = run(ledger, concurrency=4)

    assert summary.failed is False, summary.error
    assert summary.key_repairs_missing == 4
    assert [record.outcome for record in audit.key_records] == ["applied"] * 4


def test_counter_repairs_of_different_events_are_written_concurrently() -> None:
    ledger = world()
    keys = [ledger.ledger_event(f"fest-{i}", 2) for i in range(4)]
    for key in keys:
        ledger.table.events_by_key[key].count = 9
    meet_at(threading.Barrier(4, timeout=BARRIER_TIMEOUT), "AddToCounter", ledger)

    summary, audit = run(ledger, concurrency=4)

    assert summary.failed is False, summary.error
    assert summary.counter_repairs == 4
    assert [ledger.table.count_of(key) for key in keys] == [2, 2, 2, 2]
    assert [record.outcome for record in audit.records] == ["applied"] * 4


@dataclass
class WatchedLedger(FakeLedger):
    """Records which writes of ``watched`` ran at once, and in which order they started."""

    watched: str = "fest"
    running: int = 0
    most_at_once: int = 0
    started: list[str] = field(default_factory=list)
    second_write: threading.Event = field(default_factory=threading.Event)
    guard: threading.Lock = field(default_factory=threading.Lock)

    @contextmanager
    def _watch(self, slug: str, operation: str) -> Iterator[None]:
        if slug != self.watched:
            yield
            return
        with self.guard:
            self.running += 1
            self.most_at_once = max(self.most_at_once, self.running)
            self.started.append(operation)
            first = len(self.started) == 1
            if not first:
                self.second_write.set()
        if first:
            self.second_write.wait(OVERLAP_WINDOW)
        try:
            yield
        finally:
            with self.guard:
                self.running -= 1

    def add_to_counter(self, correction: Correction) -> None:
        with self._watch(correction.key.slug, "AddToCounter"):
            super().add_to_counter(correction)

    def repair_key(self, repair: KeyRepair) -> None:
        with self._watch(repair.event.slug, "RepairKey"):
            super().repair_key(repair)


def test_the_writes_of_one_event_never_overlap_and_its_counter_goes_first() -> None:
    # GIVEN an event with a hand-edited counter and three lost registrations, beside three
    # other events with work of their own, and four workers
    ledger = WatchedLedger(FakeReconcileTable())
    key = ledger.ledger_event("fest", 2)
    ledger.table.events_by_key[key].count = 9
    for i in range(3):
        ledger.register("fest", f"late-{i}@example.com")
    events_with_a_lost_insert(ledger, 3)
    # WHEN one pass runs
    summary, _ = run(ledger, concurrency=4)
    # THEN the event's four writes ran one at a time, counter first, and it ends exact
    assert summary.failed is False, summary.error
    assert ledger.started == ["AddToCounter", "RepairKey", "RepairKey", "RepairKey"]
    assert ledger.most_at_once == 1
    assert ledger.table.count_of(key) == 5 == ledger.table.attendees["fest"]
    assert summary.key_repairs_missing == 6


def test_a_lost_lease_starts_no_new_event_and_what_landed_is_counted_and_audited() -> None:
    # GIVEN twenty events to repair, two workers, and a lease lost at the third write
    ledger = world()
    events_with_a_lost_insert(ledger, 20)
    checks = 0
    lock = threading.Lock()

    def lease() -> None:
        nonlocal checks
        with lock:
            checks += 1
            if checks > 2:
                raise LeaseLostError("taken over")

    # WHEN one pass runs
    summary, audit = run(ledger, concurrency=2, control=PassControl(before_write=lease))
    # THEN only the two writes past their check landed, each counted with its outcome line
    assert summary.stop is StopReason.LEASE_LOST
    assert len(ledger.key_writes) == 2
    assert summary.key_repairs_missing == 2
    assert [record.outcome for record in audit.key_records] == ["applied", "applied"]
    # and no event started after the failure was seen (one per worker at most, already queued)
    assert checks <= 2 + 2


def test_a_write_failing_mid_event_keeps_the_events_earlier_repairs_counted() -> None:
    # GIVEN one event with three lost registrations whose second repair fails outright
    ledger = world()
    key = ledger.ledger_event("fest", 1)
    for i in range(3):
        ledger.register("fest", f"late-{i}@example.com")
    repairs = 0

    def throttled(operation: str) -> None:
        nonlocal repairs
        if operation == "RepairKey":
            repairs += 1
            if repairs == 2:
                raise AwsError("TransactWriteItems", "ThrottlingException", "slow down")

    ledger.before_op = throttled
    # WHEN one pass runs
    summary, audit = run(ledger, concurrency=4)
    # THEN the pass failed, its third repair never started, and the first one is counted,
    # audited and written
    assert summary.failed is True
    assert "ThrottlingException" in str(summary.error)
    assert repairs == 2
    assert summary.key_repairs_missing == 1
    assert [record.outcome for record in audit.key_records] == ["applied"]
    assert len(audit.key_intents) == 2  # the failed one's stays open for a later pass
    assert ledger.table.count_of(key) == 2


def test_a_stop_between_two_writes_of_one_event_leaves_the_rest_for_the_next_pass() -> None:
    ledger = world()
    key = ledger.ledger_event("fest", 1)
    for i in range(3):
        ledger.register("fest", f"late-{i}@example.com")
    asked = threading.Event()
    ledger.after_write = lambda _operation: asked.set()

    summary, audit = run(ledger, control=PassControl(should_stop=asked.is_set))

    assert summary.stop is StopReason.STOPPED_EARLY
    assert summary.key_repairs_missing == 1
    assert [record.outcome for record in audit.key_records] == ["applied"]
    assert ledger.table.count_of(key) == 2
    summary, _ = run(ledger)
    assert ledger.table.count_of(key) == 4


def test_a_pass_whose_counter_gaps_outgrow_the_spools_memory_still_repairs_every_one() -> None:
    ledger = world()
    keys = [ledger.ledger_event(f"fest-{i:02d}", 2) for i in range(30)]
    for key in keys:
        ledger.table.events_by_key[key].count = 7
    ledger.register("fest-03", "late@example.com")

    summary, _ = run(ledger, concurrency=4, spool_limit=5)

    assert summary.failed is False, summary.error
    assert summary.counter_repairs == 30
    assert summary.key_repairs_missing == 1
    assert [ledger.table.count_of(key) for key in keys] == [2] * 3 + [3] + [2] * 26


def test_counter_gaps_wait_in_the_spool_and_each_event_comes_back_as_one_unit() -> None:
    # GIVEN more counter gaps than the spool keeps in memory, key repairs for one of those
    # events and for one event without a gap
    keys = [EventKey("EVENT", f"fest-{i}#2026-01-01#talk") for i in range(5)]
    work = LedgerWork(spool_limit=2)
    for key in keys[:4]:
        work.corrections.append(
            Correction(key, Reason.DRIFT, StoredCounter(CounterKind.NUMBER, 9, "9", 1), 2)
        )
    repair = KeyRepair(keys[1], "item", KeyDirection.MISSING, None, Entry(True))
    other = KeyRepair(keys[4], "item", KeyDirection.MISSING, None, Entry(True))
    work.repairs = {keys[4]: (other,), keys[1]: (repair,)}
    # WHEN the writes are handed out
    events = list(work.events())
    work.close()
    # THEN every gap comes back in order with its event's key repairs, then the rest
    assert [event.key for event in events] == keys
    assert [len(event.repairs) for event in events] == [0, 1, 0, 0, 1]
    assert [event.correction is None for event in events] == [False] * 4 + [True]
    assert work.repairs == {}
