"""Stream delivery is at least once: a batch, or any tail of it, delivered again changes no
counter, and (property) any schedule of deliveries and replays counts each record once."""

from __future__ import annotations

import copy
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.kernel import deployment_spec as spec
from tests.fakes.handler import Sequencer, insert, modify, remove
from tests.unit.stream_handler_world import TECH, WORKSHOP, WORKSHOP_AI, World


@pytest.fixture
def world() -> World:
    return World()


def test_replayed_batch_changes_no_counter(world: World) -> None:
    records = world.registrations("tech-summit-2024", 4) + world.registrations("workshop", 2)
    world.handle(records)
    before = copy.deepcopy(world.store.items)
    world.handle(records)
    assert world.store.count(TECH) == 4
    assert world.store.count(WORKSHOP) == 2
    assert world.store.items == before
    assert world.last_metrics()[spec.METRIC_DUPLICATES_SKIPPED] == 6


@pytest.mark.parametrize("start", range(6))
def test_replay_from_any_record_onward_changes_nothing(world: World, start: int) -> None:
    records = [
        *world.registrations("tech-summit-2024", 2),
        remove("tech-summit-2024", "person0@example.com", world.seq()),
        *world.registrations("workshop", 2),
        insert("tech-summit-2024", "late@example.com", world.seq()),
    ]
    world.handle(records)
    versions = (world.store.version(TECH), world.store.version(WORKSHOP))
    world.handle(records[start:])
    assert (world.store.count(TECH), world.store.count(WORKSHOP)) == (2, 2)
    assert (world.store.version(TECH), world.store.version(WORKSHOP)) == versions


def test_batch_overlapping_an_applied_one_applies_only_the_new_records(world: World) -> None:
    first = world.registrations("tech-summit-2024", 3)
    world.handle(first)
    newer = world.registrations("tech-summit-2024", 2)
    world.handle(first[1:] + newer)
    assert world.store.count(TECH) == 5
    metrics = world.last_metrics()
    assert metrics[spec.METRIC_DUPLICATES_SKIPPED] == 2
    assert metrics[spec.METRIC_COUNTER_UPDATES] == 1


def test_retry_after_a_cancelling_pair_does_not_decrement(world: World) -> None:
    records = [
        insert("workshop", "a@example.com", world.seq()),
        remove("workshop", "a@example.com", world.seq()),
    ]
    world.store.put_event(WORKSHOP, 3)
    world.handle(records)
    world.handle(records[1:])
    assert world.store.count(WORKSHOP) == 3


def test_sequence_number_with_a_trailing_newline_is_malformed_and_cannot_break_replays(
    world: World,
) -> None:
    # GIVEN a record whose sequence number carries a trailing newline: padded, it would sort
    # below every real one and, stored as a position, would disable the replay guard
    bad = insert("workshop", "a@example.com", world.seq() + "\n")
    response = world.handle([bad])
    assert response == {"batchItemFailures": []}
    assert world.last_metrics()[spec.METRIC_MALFORMED_RECORDS] == 1
    # WHEN the same batch is delivered again
    world.handle([bad])
    # THEN it was never counted, so nothing can be counted twice
    assert world.store.count(WORKSHOP) == 0
    assert world.store.entries == {}


# --- property: any schedule of deliveries and replays counts each record once -------------


SLUGS = ("tech-summit-2024", "workshop", "workshop-ai")
KEYS = {"tech-summit-2024": TECH, "workshop": WORKSHOP, "workshop-ai": WORKSHOP_AI}


@st.composite
def traffic(draw: st.DrawFn) -> tuple[list[dict[str, Any]], dict[str, int]]:
    """Valid registration traffic: only registered attendees are removed."""
    seq = Sequencer()
    registered: dict[str, set[int]] = {slug: set() for slug in SLUGS}
    records: list[dict[str, Any]] = []
    for _ in range(draw(st.integers(1, 40))):
        slug = draw(st.sampled_from(SLUGS))
        person = draw(st.integers(0, 5))
        email = f"p{person}@example.com"
        if person in registered[slug]:
            if draw(st.booleans()):
                registered[slug].discard(person)
                records.append(remove(slug, email, seq()))
            else:
                records.append(modify(slug, email, seq()))
        else:
            registered[slug].add(person)
            records.append(insert(slug, email, seq()))
    return records, {slug: len(people) for slug, people in registered.items()}


@settings(max_examples=60, deadline=None)
@given(data=traffic(), size=st.integers(1, 10), replays=st.lists(st.integers(0, 200), max_size=8))
def test_any_replay_schedule_counts_every_record_exactly_once(
    data: tuple[list[dict[str, Any]], dict[str, int]], size: int, replays: list[int]
) -> None:
    records, truth = data
    world = World()
    batches = [records[i : i + size] for i in range(0, len(records), size)]
    delivered: list[list[dict[str, Any]]] = []
    for index, current in enumerate(batches):
        world.handle(current)
        delivered.append(current)
        # At-least-once: re-deliver some earlier batch, whole or from a record onward.
        if index < len(replays):
            again = delivered[replays[index] % len(delivered)]
            world.handle(again[replays[index] % len(again) :])
    assert {slug: world.store.count(KEYS[slug]) for slug in SLUGS} == truth
