"""One seeded delivery schedule over a small world: live traffic, Lambda's mapping with its
retries, partial retries and bisection, drops followed by replay or left to per-key repair,
duplicated and stale re-deliveries, hand edits of the counter, and reconciler rounds, all
interleaved by one ``random.Random(seed)``.

Each actor is a generator that yields wherever the real code does I/O, so the scheduler can
run anything between a read and the write that depends on it. Only per-item order is kept: a
batch holds at most one run of each item's records, and an item's next records wait until the
batch holding its earlier ones is done (or dropped). Re-deliveries keep no order at all.

The handler's steps mirror reconciler.handler.batch (group, read, fold, commit, retry on
conflict, the partial batch response) and the mapping's mirror reconciler.devtools.pump.mapping;
the decisions are the real pure ones: ``plan_event``, ``counter_change``, ``group_by_slug``,
``needs_key_listing``, ``key_suspects``, ``confirm_key`` and ``judge_measure``.
"""

from __future__ import annotations

import random
from collections import Counter as Tally
from collections import deque
from collections.abc import Callable, Generator, Iterable, Mapping, Sequence
from dataclasses import dataclass

from reconciler.handler.batch import DEFAULT_CONFLICT_RETRIES
from reconciler.handler.ledger import EventPlan, counter_change, plan_event
from reconciler.handler.records import AttendeeChange, SlugBatch, earliest, group_by_slug
from reconciler.kernel.ledger import Entry
from reconciler.reconcile.core import Correction
from reconciler.reconcile.ledger_core import (
    CounterLook,
    KeyRepair,
    KeySuspect,
    LedgerMeasure,
    confirm_key,
    judge_measure,
    key_suspects,
    needs_key_listing,
)
from reconciler.reconcile.ledger_pass import MEASURE_ATTEMPTS, WRITE_ATTEMPTS
from tests.fakes.ledger_fuzz_world import World

Fold = Callable[[Iterable[AttendeeChange], Mapping[str, Entry | None]], EventPlan]
Task = Generator[None, None, None]
Outcome = tuple[int, bool] | None
"""None: the batch succeeded; else (record index Lambda resumes from, the handler raised)."""

LIVE_STEPS = 32
MAX_BATCH = 6


@dataclass(frozen=True, slots=True)
class Faults:
    throttle: float
    """A commit refused outright (the event fails for this invocation)."""
    lost_response: float
    """A commit written whose response was lost: the handler reports a failure anyway."""
    duplicate: float
    """A batch delivered again later, after whatever was delivered meanwhile."""
    max_retries: int
    bisect: bool

    @classmethod
    def draw(cls, rng: random.Random) -> Faults:
        return cls(
            throttle=rng.choice((0.0, 0.1, 0.3)),
            lost_response=rng.choice((0.0, 0.1)),
            duplicate=rng.choice((0.0, 0.2)),
            max_retries=rng.choice((0, 1, 2)),
            bisect=rng.random() < 0.7,
        )


NO_FAULTS = Faults(0.0, 0.0, 0.0, 2, True)


class Schedule:
    def __init__(self, seed: int, fold: Fold = plan_event, *, guarded: bool = True) -> None:
        self.rng = rng = random.Random(seed)
        self.fold = fold
        self.guarded = guarded
        self.world = World()
        for n in range(rng.randint(1, 2)):
            attendees = rng.randint(1, 3)
            self.world.add_event(f"ev{n}", attendees, rng.randint(0, attendees))
        self.all_items = list(self.world.refs)
        self.queues: dict[str, deque[AttendeeChange]] = {i: deque() for i in self.all_items}
        self.locked: set[str] = set()
        self.faults = Faults.draw(rng)
        self.parallel = rng.randint(1, 3)
        self.live: list[Task] = []
        self.others: list[Task] = []
        self.deferred: list[list[AttendeeChange]] = []
        """Dropped ranges waiting for replay and batches waiting to be delivered again."""
        self.reconciling = False

    # -- the whole run -----------------------------------------------------------------------

    def run(self) -> World:
        rng = self.rng
        budget = rng.randint(3, 10)
        for _ in range(LIVE_STEPS):
            roll = rng.random()
            if roll < 0.25 and budget:
                budget -= 1
                self.traffic()
            elif roll < 0.45 and len(self.live) < self.parallel:
                self.spawn_batch()
            elif roll < 0.85:
                self.step_any()
            elif roll < 0.9 and self.deferred:
                records = self.deferred.pop(rng.randrange(len(self.deferred)))
                self.others.append(self.deliver(records, self.faults.max_retries))
            elif roll < 0.95 and not self.reconciling:
                self.others.append(self.reconcile())
            else:
                slug = rng.choice(list(self.world.counters))
                self.world.hand_edit(slug, rng.randint(-2, 2))
        self.quiesce()
        return self.world

    def quiesce(self) -> None:
        """No more traffic or faults: finish what is in flight, deliver what is queued, replay
        what was dropped for replay, then two reconciler rounds."""
        self.faults = NO_FAULTS
        while self.live or self.others or self.deferred or any(self.queues.values()):
            for task in (*self.live, *self.others):
                for _ in task:
                    pass
            self.live.clear()
            self.others.clear()
            self.locked.clear()
            while any(self.queues.values()):
                self.spawn_batch()
                for _ in self.live.pop():
                    pass
            for records in self.deferred:
                self.others.append(self.deliver(records, NO_FAULTS.max_retries))
            self.deferred.clear()
        for _ in range(2):
            for _ in self.reconcile():
                pass
        self.world.check_quiescent()

    def step_any(self) -> None:
        tasks = self.live + self.others
        if not tasks:
            return
        task = self.rng.choice(tasks)
        try:
            next(task)
        except StopIteration:
            (self.live if task in self.live else self.others).remove(task)

    # -- traffic and the mapping -------------------------------------------------------------

    def traffic(self) -> None:
        item = self.rng.choice(self.all_items)
        present = item not in self.world.present or self.rng.random() < 0.4
        self.queues[item].append(self.world.write_attendee(item, present))

    def spawn_batch(self) -> None:
        ready = [item for item in self.all_items if self.queues[item] and item not in self.locked]
        if not ready:
            return
        chosen = self.rng.sample(ready, self.rng.randint(1, len(ready)))
        records: list[AttendeeChange] = []
        for item in chosen:
            queue = self.queues[item]
            for _ in range(self.rng.randint(1, min(len(queue), MAX_BATCH))):
                records.append(queue.popleft())
        records.sort(key=lambda record: record.sequence)
        self.locked.update(chosen)
        self.live.append(self.live_batch(records, chosen))

    def live_batch(self, records: list[AttendeeChange], items: Sequence[str]) -> Task:
        yield from self.deliver(records, self.faults.max_retries)
        self.locked.difference_update(items)
        if self.rng.random() < self.faults.duplicate:
            self.world.seen["duplicate"] += 1
            self.deferred.append(records)

    def deliver(self, batch: list[AttendeeChange], retries_left: int) -> Task:
        """The mapping's retries: from the reported record on, halves when the handler raised,
        and the rest dropped once the retries are spent."""
        pending = batch
        while True:
            outcome = yield from self.handle(pending)
            if outcome is None:
                return
            start, raised = outcome
            seen = self.world.seen
            if retries_left == 0:
                if self.rng.random() < 0.5:
                    seen["drop replayed"] += 1
                    self.deferred.append(pending[start:])  # replayed from the on-failure queue
                else:
                    seen["drop left to repair"] += 1
                return
            retries_left -= 1
            seen["partial retry" if start else "whole retry"] += 1
            if raised and self.faults.bisect and len(pending) > 1:
                seen["bisection"] += 1
                middle = len(pending) // 2
                yield from self.deliver(pending[:middle], retries_left)
                yield from self.deliver(pending[middle:], retries_left)
                return
            pending = pending[start:]

    # -- the handler -------------------------------------------------------------------------

    def handle(self, records: list[AttendeeChange]) -> Generator[None, None, Outcome]:
        grouped = group_by_slug(records)
        attempted = 0
        failed: list[SlugBatch] = []
        for batch in grouped.batches:
            if not batch.needs_write:
                self.world.consumed(batch.changes)
                continue
            attempted += 1
            if (yield from self.apply(batch)):
                self.world.consumed(batch.changes)
            else:
                failed.append(batch)
        if not failed:
            return None
        if len(failed) == attempted:
            return 0, True
        first = earliest([batch.first_sequence_number for batch in failed])
        numbers = [record.sequence_number for record in records]
        return numbers.index(first), False

    def apply(self, batch: SlugBatch) -> Generator[None, None, bool]:
        world, faults = self.world, self.faults
        items = list(dict.fromkeys(change.item for change in batch.changes))
        for _ in range(DEFAULT_CONFLICT_RETRIES):
            counter, entries = world.read_for_handler(batch.slug, items)
            yield
            plan = self.fold(batch.changes, entries)
            if plan.writes:
                if self.rng.random() < faults.throttle:
                    return False
                change = counter_change(counter, plan.delta)
                if not world.commit(batch.slug, counter, change, plan.writes):
                    continue
                if self.rng.random() < faults.lost_response:
                    return False
            return True
        return False

    # -- the reconciler ----------------------------------------------------------------------

    def measure(
        self, slug: str
    ) -> Generator[None, None, tuple[CounterLook, Correction | None, LedgerMeasure]]:
        world = self.world
        key = world.counters[slug].key
        look, correction, measure = CounterLook.IN_FLUX, None, LedgerMeasure(key, None, 0, None)
        for _ in range(MEASURE_ATTEMPTS):
            before = world.read_counter(slug)
            yield
            present = world.count_present(slug)
            yield
            measure = LedgerMeasure(key, before, present, world.read_counter(slug))
            look, correction = judge_measure(measure)
            if look is not CounterLook.IN_FLUX:
                break
        return look, correction, measure

    def reconcile(self) -> Task:
        """One pass in ledger mode: sweep, then a settle window later the second looks, then
        the writes. The second looks and the writes of different events run side by side (the
        pass's ``--concurrency`` workers); one event's run in order, counter repair first."""
        self.reconciling = True
        world = self.world
        events: list[tuple[Correction | None, list[KeySuspect], list[KeyRepair]]] = []
        for slug, counter in world.counters.items():
            look, correction, measure = yield from self.measure(slug)
            attendees = len(world.attendees(slug))  # the Select=COUNT query
            yield
            suspects: list[KeySuspect] = []
            if not needs_key_listing(look, measure.present, attendees):
                world.seen["key listing skipped"] += 1
            else:
                entries = world.ledger_of(slug)
                yield
                suspects = list(key_suspects(counter.key, world.attendees(slug), entries, 0.0))
            if correction is not None or suspects:
                events.append((correction, suspects, []))
        yield  # the settle window
        yield from self.side_by_side([self.second_looks(s, found) for _, s, found in events])
        yield from self.side_by_side([self.repair_event(c, found) for c, _, found in events])
        self.reconciling = False

    def side_by_side(self, tasks: list[Task]) -> Task:
        while tasks:
            task = self.rng.choice(tasks)
            try:
                next(task)
            except StopIteration:
                tasks.remove(task)
            yield

    def second_looks(self, suspects: list[KeySuspect], repairs: list[KeyRepair]) -> Task:
        world = self.world
        for suspect in suspects:
            entry = world.read_entry(suspect.event.slug, suspect.item)
            yield
            exists = suspect.item in world.present  # the attendee's key read (or listed) again
            repair = confirm_key(suspect, entry, exists)
            if repair is not None:
                repairs.append(repair)

    def repair_event(self, first: Correction | None, repairs: list[KeyRepair]) -> Task:
        world = self.world
        if first is not None:
            for _ in range(WRITE_ATTEMPTS):
                look, fresh, measure = yield from self.measure(first.key.slug)
                if look is not CounterLook.GAP or fresh is None:
                    break
                yield
                if world.add_to_counter(fresh, measure.present, guarded=self.guarded):
                    break
        for repair in repairs:
            yield
            world.repair_key(repair)


def run_schedule(seed: int, fold: Fold = plan_event, *, guarded: bool = True) -> list[str]:
    """The violations one schedule found (none, when the design holds)."""
    return Schedule(seed, fold, guarded=guarded).run().violations


def coverage(seeds: Iterable[int]) -> Tally[str]:
    """What some schedules exercised, summed: proof that the fuzzer reaches each case."""
    total: Tally[str] = Tally()
    for seed in seeds:
        total.update(Schedule(seed).run().seen)
    return total
