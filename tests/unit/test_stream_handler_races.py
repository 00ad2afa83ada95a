"""Deliveries racing each other, with the interleaving forced: one delivery reads, another runs
whole between that read and its write (a retry racing a slow first attempt, two batches of a split
shard, the reconciler's repair). DynamoDB runs transactions in isolation; the fake store commits
atomically, as it does."""

from __future__ import annotations

import pytest

from reconciler.kernel.model import EventKey
from tests.fakes.handler import insert, remove
from tests.unit.stream_handler_world import TECH, World


@pytest.fixture
def world() -> World:
    return World()


def race(world: World, first: list[dict[str, object]], second: list[dict[str, object]]) -> None:
    """``second`` is delivered whole between ``first``'s read and its first commit."""
    fired = False

    def interleave(key: EventKey) -> None:
        nonlocal fired
        if not fired:
            fired = True
            world.store.before_commit = None
            assert world.handle(second) == {"batchItemFailures": []}

    world.store.before_commit = interleave
    assert world.handle(first) == {"batchItemFailures": []}


def test_a_retry_racing_its_first_attempt_counts_each_record_once(world: World) -> None:
    records = world.registrations("tech-summit-2024", 10)
    race(world, records, records)
    assert world.store.count(TECH) == 10
    assert world.store.present("tech-summit-2024") == 10


def test_two_batches_of_one_event_racing_each_other_count_every_record(world: World) -> None:
    first = world.registrations("tech-summit-2024", 10)
    second = world.registrations("tech-summit-2024", 10)
    race(world, second, first)
    assert world.store.count(TECH) == 20


def test_a_later_batch_of_the_same_items_racing_an_earlier_one_keeps_per_item_order(
    world: World,
) -> None:
    # GIVEN a registration and its removal, the removal's batch running inside the
    # registration's read-write window
    register = [insert("tech-summit-2024", "a@example.com", world.seq())]
    unregister = [remove("tech-summit-2024", "a@example.com", world.seq())]
    world.store.put_event(TECH, 0)
    race(world, register, unregister)
    # THEN the stale registration, retried after the removal, adds nothing
    assert world.store.count(TECH) == 0
