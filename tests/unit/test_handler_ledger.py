"""The ledger fold: every delta comes from one item's state change, so re-deliveries add nothing.

The property test plays deliveries that keep only what AWS promises (each item's own order) and
adds what Lambda does (duplicates, stale re-deliveries, any interleaving of items), and checks the
counter against the truth.
"""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.handler.ledger import (
    MAX_ENTRIES_PER_TRANSACTION,
    CounterRead,
    chunks,
    counter_change,
    fold,
    plan_event,
)
from reconciler.handler.records import AttendeeChange, ChangeKind
from reconciler.kernel.ledger import Entry, Position
from reconciler.kernel.model import pad_sequence

INSERT, MODIFY, REMOVE = ChangeKind.INSERT, ChangeKind.MODIFY, ChangeKind.REMOVE
LABEL = "2024-10-27T00:00:00.000"


def change(kind: ChangeKind, sequence: int, item: str = "a", label: str = LABEL) -> AttendeeChange:
    raw = str(sequence)
    return AttendeeChange("tech-summit-2024", kind, pad_sequence(raw), raw, item=item, label=label)


def at(sequence: int, label: str = LABEL) -> Position:
    return Position(label, pad_sequence(str(sequence)))


def test_a_new_registration_counts_one_and_creates_its_entry():
    result = fold("a", None, [change(INSERT, 100)])
    assert result.delta == 1
    assert result.write
    assert result.after == Entry(True, at(100))


def test_a_removal_of_an_item_without_entry_counts_down_as_the_old_handler_counted_it():
    result = fold("a", None, [change(REMOVE, 100)])
    assert result.delta == -1
    assert result.after == Entry(False, at(100))


def test_a_modify_of_an_item_without_entry_creates_a_present_entry_and_counts_nothing():
    result = fold("a", None, [change(MODIFY, 100)])
    assert (result.delta, result.write, result.after.present) == (0, True, True)


def test_a_redelivered_insert_of_a_present_item_adds_nothing_and_writes_nothing():
    result = fold("a", Entry(True, at(100)), [change(INSERT, 100)])
    assert (result.delta, result.write, result.skipped) == (0, False, 1)


def test_a_stale_record_behind_the_entrys_position_is_skipped():
    # REMOVE at 300 was applied; the INSERT at 100 and REMOVE at 200 arrive late.
    result = fold("a", Entry(False, at(300)), [change(INSERT, 100), change(REMOVE, 200)])
    assert (result.delta, result.write, result.skipped) == (0, False, 2)


def test_a_modify_of_a_present_item_writes_nothing():
    result = fold("a", Entry(True, at(100)), [change(MODIFY, 200)])
    assert (result.delta, result.write, result.applied) == (0, False, 1)


def test_an_insert_and_a_remove_in_one_batch_net_zero_but_move_the_entry():
    # Without the write, a retry from the REMOVE onward would count the REMOVE again.
    result = fold("a", Entry(False, at(50)), [change(INSERT, 100), change(REMOVE, 200)])
    assert result.delta == 0
    assert result.write
    assert result.after == Entry(False, at(200))


def test_records_of_a_newer_stream_come_after_the_old_streams():
    old = Entry(True, at(900, "2024-01-01T00:00:00.000"))
    result = fold("a", old, [change(REMOVE, 5, label="2024-06-01T00:00:00.000")])
    assert result.delta == -1


def test_a_backfilled_entry_without_position_takes_any_record():
    result = fold("a", Entry(True, None), [change(REMOVE, 100)])
    assert result.delta == -1
    assert result.after == Entry(False, at(100))


def test_records_arriving_out_of_order_within_a_batch_fold_in_stream_order():
    result = fold("a", None, [change(REMOVE, 200), change(INSERT, 100)])
    assert result.delta == 0
    assert result.after == Entry(False, at(200))


def test_an_event_plan_sums_its_items_and_writes_only_what_changed():
    plan = plan_event(
        [change(INSERT, 1, "a"), change(INSERT, 2, "b"), change(MODIFY, 3, "c")],
        {"a": None, "b": Entry(True, at(2)), "c": Entry(True, at(0))},
    )
    assert plan.delta == 1
    assert [fold.item for fold in plan.writes] == ["a"]
    assert plan.duplicates == 1


def test_chunks_leave_room_for_the_counter_in_every_transaction():
    writes = [fold(str(n), None, [change(INSERT, n, str(n))]) for n in range(1, 201)]
    parts = chunks(writes)
    assert [len(part) for part in parts] == [99, 99, 2]
    assert MAX_ENTRIES_PER_TRANSACTION + 1 == 100


@pytest.mark.parametrize(
    ("count", "delta", "add", "set_to", "clamped"),
    [
        (5, 2, 2, None, False),
        (5, -5, -5, None, False),
        (1, -3, None, 0, True),
        (-4, 1, None, 1, True),
        (-4, -1, None, 0, True),
        (None, 2, 2, None, False),
        (None, -1, None, 0, True),
    ],
)
def test_the_counter_never_goes_below_zero_and_never_adds_onto_a_negative_count(
    count: int | None, delta: int, add: int | None, set_to: int | None, clamped: bool
):
    change_ = counter_change(CounterRead(True, count), delta)
    assert (change_.add, change_.set_to, change_.clamped) == (add, set_to, clamped)


# --- any delivery schedule that keeps per-item order -------------------------------------------


@dataclass
class World:
    entries: dict[str, Entry]
    counter: int

    def deliver(self, batch: list[AttendeeChange]) -> None:
        plan = plan_event(batch, {c.item: self.entries.get(c.item) for c in batch})
        for written in plan.writes:
            self.entries[written.item] = written.after
        self.counter += plan.delta


@st.composite
def schedules(draw: st.DrawFn) -> tuple[int, int, list[list[AttendeeChange]]]:
    """Histories of a few items (some present before the ledger existed), delivered in batches
    that interleave items freely, keep each item's order, and repeat any earlier record (a retry,
    a duplicate, a stale re-delivery) at any later point."""
    items = draw(st.integers(1, 5))
    sequence = 0
    histories: list[list[AttendeeChange]] = []
    present_before = 0
    truth = 0
    for index in range(items):
        present = draw(st.booleans())  # present before the ledger: counted by the old handler
        present_before += present
        records: list[AttendeeChange] = []
        for _ in range(draw(st.integers(0, 6))):
            kind = draw(st.sampled_from([REMOVE, MODIFY])) if present else INSERT
            sequence += draw(st.integers(1, 3))
            records.append(change(kind, sequence, f"item-{index}"))
            present = kind is not REMOVE
        truth += present
        histories.append(records)
    delivered: list[AttendeeChange] = []
    cursors = [0] * items
    batches: list[list[AttendeeChange]] = []
    while any(cursor < len(h) for cursor, h in zip(cursors, histories, strict=True)):
        batch: list[AttendeeChange] = []
        for slot in range(draw(st.integers(1, 4))):
            ready = [i for i in range(items) if cursors[i] < len(histories[i])]
            # Every batch carries at least one new record, so a schedule ends after at most
            # one batch per record (bounded input, and no flaky "data too large" health check).
            if ready and (slot == 0 or draw(st.booleans())):
                chosen = draw(st.sampled_from(ready))
                batch.append(histories[chosen][cursors[chosen]])
                cursors[chosen] += 1
            elif delivered:
                batch.append(draw(st.sampled_from(delivered)))
        delivered.extend(batch)
        batches.append(batch)
    return present_before, truth, batches


@settings(max_examples=300, deadline=None)
@given(schedules())
def test_any_schedule_keeping_per_item_order_counts_each_state_change_once(
    schedule: tuple[int, int, list[list[AttendeeChange]]],
):
    counted_by_old_handler, truth, batches = schedule
    world = World({}, counted_by_old_handler)
    for batch in batches:
        world.deliver(batch)
    assert world.counter == truth
    # Redelivering everything again, in any order, changes nothing.
    for batch in reversed(batches):
        world.deliver(batch)
    assert world.counter == truth
