"""Proof by fuzzing: the ledger keeps the counter exact under any delivery AWS may make.

Ten thousand seeded schedules over small worlds (tests.fakes.ledger_fuzz_schedule) drive the
real fold and the real repair decisions against an in-memory world whose writes honour the
adapters' conditions. Each must end exact after quiescence, and never count an attendee twice
or write from a stale look on the way. Controls prove the checker catches what it claims to.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import replace

import pytest

from reconciler.handler.ledger import EventPlan, fold, plan_event
from reconciler.handler.records import AttendeeChange, ChangeKind
from reconciler.kernel.ledger import Entry, Position
from tests.fakes.ledger_fuzz_schedule import coverage, run_schedule
from tests.fakes.ledger_fuzz_world import STREAM_LABEL

SCHEDULES = 10_000
BLOCKS = 4
"""The schedules run in blocks, so the suite's workers share them."""


@pytest.mark.parametrize("block", range(BLOCKS))
def test_every_schedule_ends_exact_without_a_double_count_or_a_stale_write(block: int) -> None:
    size = SCHEDULES // BLOCKS
    failures = {
        seed: found
        for seed in range(block * size, (block + 1) * size)
        if (found := run_schedule(seed))
    }
    assert failures == {}


def test_the_schedules_reach_every_case_they_claim() -> None:
    seen = coverage(range(500))
    assert set(seen) == {
        "bisection",
        "counter repair",
        "counter repair refused",
        "drop left to repair",
        "drop replayed",
        "duplicate",
        "hand edit",
        "handler conflict",
        "key repair",
        "key repair refused",
        "key listing skipped",
        "partial retry",
        "record applied after a repair of its key",
        "whole retry",
    }


def _positions_ignored(
    changes: Iterable[AttendeeChange], entries: Mapping[str, Entry | None]
) -> EventPlan:
    """A fold that forgot to compare positions (its writes still carry the right conditions)."""
    blind = plan_event(
        changes, {item: None if e is None else Entry(e.present) for item, e in entries.items()}
    )
    return EventPlan(tuple(replace(f, before=entries.get(f.item)) for f in blind.folds))


def test_the_checker_catches_a_fold_that_ignores_positions() -> None:
    found = next(filter(None, (run_schedule(seed, _positions_ignored) for seed in range(2000))))
    assert any(violation.startswith("double count") for violation in found)


def test_the_checker_catches_a_counter_repair_that_ignores_what_it_measured() -> None:
    stale = (
        [violation for violation in run_schedule(seed, guarded=False) if "stale" in violation]
        for seed in range(2000)
    )
    assert next(filter(None, stale))


def _record(kind: ChangeKind, number: int) -> AttendeeChange:
    sequence = str(number).zfill(40)
    return AttendeeChange("ev", kind, sequence, str(number), item="a", label=STREAM_LABEL)


def test_an_insert_onto_a_repaired_entry_moves_it_past_a_dropped_removal() -> None:
    # Found by the fuzzer: a repair set the entry present (keeping its position), the INSERT
    # at 300 flipped nothing, and the dropped REMOVE at 200, replayed later, removed the
    # attendee the table still holds.
    repaired = Entry(True, Position(STREAM_LABEL, "100".zfill(40)))
    after_insert = fold("a", repaired, [_record(ChangeKind.INSERT, 300)])
    assert after_insert.write
    replayed = fold("a", after_insert.after, [_record(ChangeKind.REMOVE, 200)])
    assert (replayed.delta, replayed.write, replayed.skipped) == (0, False, 1)
