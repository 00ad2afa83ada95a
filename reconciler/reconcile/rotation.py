"""The rotating sweep: which events a budgeted pass looks at, and what it remembers.

The imperative shell around :mod:`reconciler.reconcile.rotation_core`. The pass iterates
:meth:`RotatingSweep.groups` instead of the full listing; it walks every event item once, from
just after the saved cursor to the end and round again to the cursor, merging the walk with the
verification records (both in the same key order, so memory stays constant), and hands out:

- every event whose counter changed since it was last found in sync (or is missing, or not a
  number): always;
- then, contiguously from the cursor, unchanged events while the period's quota and the read
  budget last. Once either runs out, no later unchanged event is handed out in this pass, so
  the cursor always marks a clean boundary.

The pass tells :meth:`RotatingSweep.looked` what each first look found; a counter found in sync
whose fingerprint differs from its record is recorded (batched writes, in the pass's thread).
:meth:`RotatingSweep.finish` saves the cursor, conditioned on the revision it read: two replicas
that both ran a pass (a lease hand-over) cannot move the cursor backwards.

The read budget is checked before each event is handed out, against the units the pass has
consumed so far; reads in flight (at most two events per worker) may take it slightly over.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass

from reconciler.kernel.errors import ConflictError
from reconciler.kernel.logs import get_logger
from reconciler.reconcile.core import (
    FirstLook,
    Observation,
    Shard,
    StoredCounter,
    first_look,
    in_shard,
)
from reconciler.reconcile.ledger_core import CounterLook
from reconciler.reconcile.ledger_tally import LedgerLook
from reconciler.reconcile.pass_control import PassOptions
from reconciler.reconcile.ports import EventGroup, EventSource, RotationStore
from reconciler.reconcile.rotation_core import (
    Cycle,
    Priority,
    RotationReport,
    advance,
    fingerprint,
    oldest_verification_age,
    priority,
    quota,
    record_key,
    resume_key,
)

BATCH = 25
"""Records per ``BatchWriteItem``, DynamoDB's limit."""


def in_sync(look: Observation | LedgerLook) -> StoredCounter | None:
    """The counter a first look found exact, if it did; a ledger look also needs every key to
    agree (a lost record shows up there first)."""
    if isinstance(look, LedgerLook):
        exact = look.counter is CounterLook.IN_SYNC and not look.suspects
        return look.measure.before if exact else None
    return look.stored if first_look(look) is FirstLook.IN_SYNC else None


def scope_of(shard: Shard | None) -> str:
    """Each shard rotates through its own slugs with its own cursor."""
    return "all" if shard is None else f"{shard.index}/{shard.count}"


@dataclass
class _Walk:
    cycle: Cycle
    allowance: int | None
    last: str | None
    wrapped: bool = False
    complete: bool = False
    events: int = 0
    rotating: bool = True
    after_wrap: int = 0
    """Events recounted in rotation after the wrap: the new cycle's first."""


class RotatingSweep:
    def __init__(
        self,
        events: EventSource,
        store: RotationStore,
        options: PassOptions,
        *,
        wall: Callable[[], float],
        spent: Callable[[], float],
    ) -> None:
        """``wall``: epoch seconds (shared with replicas); ``spent``: read units consumed by
        the pass so far."""
        self._events = events
        self._store = store
        self._shard = shard = options.shard
        self._scope = scope_of(shard)
        self._budget = max_read_units = options.max_read_units
        self._period = period = options.full_sweep_every
        self._wall = wall
        self._spent = spent
        self._recorded: dict[str, str | None] = {}
        """Slugs handed out and not looked at yet -> their recorded fingerprint."""
        self._writes: list[tuple[str, str]] = []
        self._stale: list[str] = []
        self._walk: _Walk | None = None
        self.report = RotationReport(period_seconds=period, max_read_units=max_read_units)
        self._log = get_logger("reconciler.reconcile.rotation")

    # -- the walk ------------------------------------------------------------------------------

    def groups(self) -> Iterator[EventGroup]:
        cycle = self._store.load_cycle(self._scope)
        walk = _Walk(cycle, quota(cycle, self._period, self._wall()), cycle.cursor)
        self._walk = walk
        self.report.quota = walk.allowance
        cursor = cycle.cursor
        if cursor is None:
            segments: list[tuple[str | None, str | None]] = [(None, None)]
        else:
            segments = [(resume_key(cursor), None), (None, resume_key(cursor))]
        for index, (start, stop) in enumerate(segments):
            for group, recorded in self._joined(start, stop):
                walk.events += 1
                if priority(group.listed, recorded) is Priority.CHANGED:
                    self.report.changed += 1
                elif walk.rotating and self._allowed(walk):
                    self.report.rotated += 1
                    walk.after_wrap += walk.wrapped
                    walk.last = group.slug
                else:
                    walk.rotating = False
                    self.report.deferred += 1
                    continue
                self._recorded[group.slug] = recorded
                yield group
            if index == 0 and walk.rotating:
                # Past the end of the listing with allowance left: the cycle is complete, and
                # the next one starts at the beginning (or wherever this pass gets to).
                walk.wrapped = True
                walk.last = None
        walk.complete = True

    def _allowed(self, walk: _Walk) -> bool:
        if walk.allowance is not None and self.report.rotated >= walk.allowance:
            return False
        if self._budget is not None and self._spent() >= self._budget:
            self.report.budget_exhausted = True
            return False
        return True

    def _joined(
        self, start: str | None, stop: str | None
    ) -> Iterator[tuple[EventGroup, str | None]]:
        """The walk's event groups of this shard, each with its record (merge join); records
        of events that no longer exist are deleted."""
        records = self._store.records(start, stop)
        pending = next(records, None)
        for group in self._events.events(start, stop):
            if not in_shard(group.slug, self._shard):
                continue
            key = record_key(group.slug)
            while pending is not None and pending[0] < key:
                self._drop_stale(pending[0])
                pending = next(records, None)
            recorded = None
            if pending is not None and pending[0] == key:
                recorded = pending[1]
                pending = next(records, None)
            yield group, recorded
        while pending is not None:
            self._drop_stale(pending[0])
            pending = next(records, None)

    def _drop_stale(self, key: str) -> None:
        if in_shard(key[:-1], self._shard):
            self._stale.append(key)
            if len(self._stale) >= BATCH:
                self._flush_stale()

    # -- what the pass found -------------------------------------------------------------------

    def looked(self, slug: str, in_sync: StoredCounter | None) -> None:
        """Called for every group handed out: ``in_sync`` is the counter a first look found
        exact (``None``: suspect, in flux, ambiguous or gone: not verified)."""
        recorded = self._recorded.pop(slug, None)
        if in_sync is None:
            return
        current = fingerprint(in_sync)
        if current != recorded:
            self._writes.append((record_key(slug), current))
            if len(self._writes) >= BATCH:
                self._flush_writes()

    def _flush_writes(self) -> None:
        if self._writes:
            self._store.put_records(self._writes)
            self.report.recorded += len(self._writes)
            self._writes = []

    def _flush_stale(self) -> None:
        if self._stale:
            self._store.delete_records(self._stale)
            self.report.stale_removed += len(self._stale)
            self._stale = []

    def finish(self) -> RotationReport:
        """Writes what is buffered and saves the cursor. A walk cut short (a stop) keeps the
        last quota base; its cursor still moves past what it recounted."""
        self._flush_writes()
        self._flush_stale()
        walk = self._walk
        report = self.report
        if walk is None:
            return report
        now = self._wall()
        events = walk.events if walk.complete else (walk.cycle.events or walk.events)
        rotated = walk.after_wrap if walk.wrapped else self.report.rotated
        cycle = advance(
            walk.cycle,
            cursor=walk.last,
            wrapped=walk.wrapped,
            rotated=rotated,
            events=events,
            now=now,
        )
        try:
            self._store.save_cycle(self._scope, cycle)
        except ConflictError:
            report.cursor_saved = False
            self._log.warning("rotation_cursor_not_saved", scope=self._scope)
            cycle = walk.cycle
        report.cycle_completed = walk.wrapped
        report.oldest_verification_age_seconds = oldest_verification_age(cycle, now)
        if (
            report.budget_exhausted
            and walk.allowance is not None
            and report.rotated < walk.allowance
        ):
            # The read budget is too small for the period: the oldest age will say so too.
            self._log.warning(
                "full_sweep_period_at_risk",
                quota=walk.allowance,
                rotated=report.rotated,
                max_read_units=self._budget,
            )
        return report


__all__ = ["RotatingSweep", "scope_of"]
