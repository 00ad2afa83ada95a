"""What the handler does with what it cannot apply: malformed records are skipped and
counted, a failed event is reported from its first record so Lambda retries from there,
conflicts are retried, and only a batch with no event updated raises."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.handler.batch import BatchFailedError
from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.ledger import Entry, Position, item_hash
from reconciler.kernel.model import EventKey, pad_sequence
from tests.fakes.handler import insert, record, remove
from tests.unit.stream_handler_world import TECH, WORKSHOP, WORKSHOP_AI, World


@pytest.fixture
def world() -> World:
    return World()


def test_malformed_records_are_skipped_and_the_rest_applied(world: World) -> None:
    good = world.registrations("workshop", 2)
    bad: list[Any] = [
        "garbage",
        record("UPSERT", "workshop#ATTENDEE", "x@example.com", world.seq()),
        {"eventName": "INSERT", "dynamodb": {"SequenceNumber": "abc"}},
    ]
    response = world.handle([good[0], *bad, good[1]])
    assert response == {"batchItemFailures": []}
    assert world.store.count(WORKSHOP) == 2
    assert world.last_metrics()[spec.METRIC_MALFORMED_RECORDS] == 3


def test_an_event_that_is_not_a_batch_is_reported_not_raised(world: World) -> None:
    assert world.handler.handle({"nope": 1}) == {"batchItemFailures": []}
    assert world.last_metrics()[spec.METRIC_MALFORMED_RECORDS] == 1


def test_failed_event_is_reported_from_its_first_record(world: World) -> None:
    world.store.failing.add(WORKSHOP)
    records = [
        insert("tech-summit-2024", "a@example.com", world.seq()),
        insert("workshop", "b@example.com", world.seq()),
        insert("tech-summit-2024", "c@example.com", world.seq()),
        insert("workshop", "d@example.com", world.seq()),
    ]
    response = world.handle(records)
    identifier = records[1]["dynamodb"]["SequenceNumber"]
    assert response == {"batchItemFailures": [{"itemIdentifier": identifier}]}
    assert world.store.count(TECH) == 2
    assert world.last_metrics()[spec.METRIC_PARTIAL_BATCH_FAILURES] == 1

    # WHEN Lambda retries from the reported record and the table recovered
    world.store.failing.clear()
    assert world.handle(records[1:]) == {"batchItemFailures": []}
    # THEN every record counted exactly once
    assert (world.store.count(TECH), world.store.count(WORKSHOP)) == (2, 2)


def test_failed_lookup_is_a_partial_failure_too(world: World) -> None:
    world.locator.failing.add("workshop")
    records = world.registrations("tech-summit-2024", 1) + world.registrations("workshop", 1)
    response = world.handle(records)
    assert response["batchItemFailures"] == [
        {"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}
    ]


def test_earliest_failed_record_is_named_when_several_events_fail(world: World) -> None:
    world.store.failing.update({WORKSHOP, WORKSHOP_AI})
    records = [
        insert("workshop-ai", "a@example.com", world.seq()),
        insert("tech-summit-2024", "b@example.com", world.seq()),
        insert("workshop", "c@example.com", world.seq()),
    ]
    response = world.handle(records)
    assert response["batchItemFailures"] == [
        {"itemIdentifier": records[0]["dynamodb"]["SequenceNumber"]}
    ]


def test_batch_raises_when_no_event_could_be_updated(world: World) -> None:
    world.store.failing.update({TECH, WORKSHOP})
    with pytest.raises(BatchFailedError):
        world.handle(
            world.registrations("tech-summit-2024", 1) + world.registrations("workshop", 1)
        )
    # the metrics line is still written for the failed invocation
    assert world.last_metrics()[spec.METRIC_RECORDS_INSERT] == 2


def test_concurrent_write_during_catch_up_is_retried(world: World) -> None:
    world.store.put_event(WORKSHOP, 1)
    interference = iter([True])

    def reconciler_writes(key: EventKey) -> None:
        if next(interference, False):
            world.store.items[key]["attendeeCount"] = {"N": "5"}
            world.store.items[key]["counterVersion"] = {"N": "7"}

    world.store.before_commit = reconciler_writes
    world.handle([remove("workshop", f"p{i}@example.com", world.seq()) for i in range(2)])
    assert world.store.count(WORKSHOP) == 3
    assert world.store.version(WORKSHOP) == 8


def test_endless_conflicts_fail_only_that_event(world: World) -> None:
    world.store.put_event(WORKSHOP, 0)

    moves = iter(range(1, 1000))

    def always(key: EventKey) -> None:
        # A concurrent writer moves the removed attendee's entry before every commit.
        if key == WORKSHOP:
            item = item_hash("workshop#ATTENDEE", "p@example.com")
            position = Position("", pad_sequence(str(next(moves))))
            world.store.entries[("workshop", item)] = Entry(True, position)

    world.store.before_commit = always
    records = [
        *world.registrations("tech-summit-2024", 1),
        remove("workshop", "p@example.com", world.seq()),
    ]
    response = world.handle(records)
    assert response["batchItemFailures"] == [
        {"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}
    ]
    writes = [name for name, key in world.store.calls if key == WORKSHOP]
    assert writes.count("commit") == 5
