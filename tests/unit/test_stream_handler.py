from __future__ import annotations

import copy
import io
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from reconciler.handler.batch import BatchFailedError, StreamHandler
from reconciler.handler.entry import lambda_function
from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.logs import configure_logging
from reconciler.kernel.model import EventKey, TableModel
from tests.fakes.handler import (
    FakeCounterStore,
    FakeEventLocator,
    FakeMetrics,
    Sequencer,
    batch,
    insert,
    modify,
    record,
    remove,
)

TECH = EventKey("FAD", "tech-summit-2024#2024-10-27#conference")
WORKSHOP = EventKey("EVENT", "workshop#2024-11-15#workshop")
WORKSHOP_AI = EventKey("EVENT", "workshop-ai#2024-11-15#workshop")


class World:
    """A handler wired to fakes, with the three events above and a sequence source."""

    def __init__(self, conflict_retries: int = 5) -> None:
        self.store = FakeCounterStore()
        self.locator = FakeEventLocator()
        self.metrics = FakeMetrics()
        self.seq = Sequencer()
        for key in (TECH, WORKSHOP, WORKSHOP_AI):
            self.locator.add(key)
            self.store.put_event(key, 0)
        self.handler = StreamHandler(
            self.locator,
            self.store,
            self.metrics,
            TableModel(),
            conflict_retries=conflict_retries,
        )

    def handle(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        return self.handler.handle(batch(records))

    def registrations(self, slug: str, n: int) -> list[dict[str, Any]]:
        return [insert(slug, f"person{i}@example.com", self.seq()) for i in range(n)]

    def last_metrics(self) -> dict[str, int | float]:
        return self.metrics.lines[-1]


@pytest.fixture
def world() -> World:
    return World()


@pytest.fixture
def logs() -> io.StringIO:
    out = io.StringIO()
    configure_logging("json", "debug", stream=out)
    return out


def events(logs: io.StringIO) -> list[dict[str, Any]]:
    return [json.loads(line) for line in logs.getvalue().splitlines() if line.startswith("{")]


def test_inserts_add_removes_subtract_and_modifies_change_nothing(world: World) -> None:
    records = [
        *world.registrations("tech-summit-2024", 3),
        remove("tech-summit-2024", "person0@example.com", world.seq()),
        modify("tech-summit-2024", "person1@example.com", world.seq()),
        *world.registrations("workshop", 2),
    ]
    response = world.handle(records)
    assert response == {"batchItemFailures": []}
    assert world.store.count(TECH) == 2
    assert world.store.count(WORKSHOP) == 2
    metrics = world.last_metrics()
    assert metrics[spec.METRIC_RECORDS_INSERT] == 5
    assert metrics[spec.METRIC_RECORDS_REMOVE] == 1
    assert metrics[spec.METRIC_RECORDS_MODIFY] == 1
    assert metrics[spec.METRIC_COUNTER_UPDATES] == 2


def test_one_write_per_event_per_batch(world: World) -> None:
    world.handle(world.registrations("tech-summit-2024", 7) + world.registrations("workshop", 3))
    writes = [key for name, key in world.store.calls if name == "add_if_newer"]
    assert sorted(writes, key=str) == sorted([TECH, WORKSHOP], key=str)
    assert world.store.version(TECH) == 1


def test_every_applied_update_bumps_the_version(world: World) -> None:
    world.handle(world.registrations("tech-summit-2024", 2))
    world.handle(world.registrations("tech-summit-2024", 2))
    assert world.store.version(TECH) == 2


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


def test_decrement_below_zero_leaves_zero_and_is_reported(world: World, logs: io.StringIO) -> None:
    world.store.put_event(WORKSHOP, 1)
    response = world.handle(
        [remove("workshop", f"p{i}@example.com", world.seq()) for i in range(3)]
    )
    assert response == {"batchItemFailures": []}
    assert world.store.count(WORKSHOP) == 0
    assert world.last_metrics()[spec.METRIC_CLAMPED_AT_ZERO] == 1
    clamped = [e for e in events(logs) if e["event"] == "counter_clamped_at_zero"]
    assert clamped == [clamped[0]]
    assert clamped[0]["slug"] == "workshop"


def test_a_negative_count_is_raised_to_zero_never_added_to(world: World) -> None:
    # GIVEN a count the old, unclamped handler drove below zero
    world.store.put_event(WORKSHOP, -3)
    world.handle(world.registrations("workshop", 2))
    assert world.store.count(WORKSHOP) == 2
    assert world.last_metrics()[spec.METRIC_CLAMPED_AT_ZERO] == 1


def test_decrement_of_a_missing_count_is_clamped(world: World) -> None:
    world.store.put_event(WORKSHOP, None)
    world.handle([remove("workshop", "p@example.com", world.seq())])
    assert world.store.count(WORKSHOP) == 0
    assert world.last_metrics()[spec.METRIC_CLAMPED_AT_ZERO] == 1


def test_increment_of_a_missing_count_starts_from_zero(world: World) -> None:
    world.store.put_event(WORKSHOP, None)
    world.handle(world.registrations("workshop", 2))
    assert world.store.count(WORKSHOP) == 2


def test_prefix_slug_counts_only_for_its_own_event(world: World) -> None:
    world.handle(world.registrations("workshop-ai", 3) + world.registrations("workshop", 1))
    assert world.store.count(WORKSHOP_AI) == 3
    assert world.store.count(WORKSHOP) == 1


def test_orphan_records_are_counted_logged_and_do_not_fail_the_batch(
    world: World, logs: io.StringIO
) -> None:
    response = world.handle(
        world.registrations("ghost-meetup", 2) + world.registrations("workshop", 1)
    )
    assert response == {"batchItemFailures": []}
    assert world.store.count(WORKSHOP) == 1
    assert world.last_metrics()[spec.METRIC_ORPHAN_RECORDS] == 2
    assert [e["slug"] for e in events(logs) if e["event"] == "event_orphaned"] == ["ghost-meetup"]


def test_ambiguous_records_are_never_guessed(world: World, logs: io.StringIO) -> None:
    twin = world.locator.add(EventKey("EVENT", "tech-summit-2024#2024-10-27#conference"))
    world.store.put_event(twin, 0)
    response = world.handle(world.registrations("tech-summit-2024", 2))
    assert response == {"batchItemFailures": []}
    assert world.store.count(TECH) == 0
    assert world.store.count(twin) == 0
    assert world.last_metrics()[spec.METRIC_AMBIGUOUS_RECORDS] == 2
    assert [e["slug"] for e in events(logs) if e["event"] == "event_ambiguous"] == [
        "tech-summit-2024"
    ]


def test_event_deleted_after_lookup_is_an_orphan(world: World) -> None:
    del world.store.items[WORKSHOP]
    response = world.handle(world.registrations("workshop", 1))
    assert response == {"batchItemFailures": []}
    assert WORKSHOP not in world.store.items
    assert world.last_metrics()[spec.METRIC_ORPHAN_RECORDS] == 1


def test_non_numeric_counter_skips_that_event_only(world: World, logs: io.StringIO) -> None:
    world.store.put_event(WORKSHOP, "twelve")
    response = world.handle(
        world.registrations("workshop", 2) + world.registrations("tech-summit-2024", 1)
    )
    assert response == {"batchItemFailures": []}
    assert world.store.items[WORKSHOP]["attendeeCount"] == {"S": "twelve"}
    assert world.store.count(TECH) == 1
    assert world.last_metrics()[spec.METRIC_MALFORMED_RECORDS] == 2
    reasons = [e.get("reason") for e in events(logs) if e["event"] == "stream_record_malformed"]
    assert reasons == ["non_numeric_counter"]


def test_non_numeric_version_skips_that_event_too(world: World) -> None:
    world.store.put_event(WORKSHOP, 3, version="v2")
    response = world.handle(world.registrations("workshop", 1))
    assert response == {"batchItemFailures": []}
    assert world.store.count(WORKSHOP) == 3
    assert world.last_metrics()[spec.METRIC_MALFORMED_RECORDS] == 1


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


def test_sequence_number_with_a_trailing_newline_is_malformed_and_cannot_break_replays(
    world: World,
) -> None:
    # GIVEN a record whose sequence number carries a trailing newline: padded, it would sort
    # below every real one and, stored as counterSeq, would disable the replay guard
    bad = insert("workshop", "a@example.com", world.seq() + "\n")
    response = world.handle([bad])
    assert response == {"batchItemFailures": []}
    assert world.last_metrics()[spec.METRIC_MALFORMED_RECORDS] == 1
    # WHEN the same batch is delivered again
    world.handle([bad])
    # THEN it was never counted, so nothing can be counted twice
    assert world.store.count(WORKSHOP) == 0
    assert world.store.sequence(WORKSHOP) is None


def test_an_event_that_is_not_a_batch_is_reported_not_raised(world: World) -> None:
    assert world.handler.handle({"nope": 1}) == {"batchItemFailures": []}
    assert world.last_metrics()[spec.METRIC_MALFORMED_RECORDS] == 1


def test_event_items_and_the_lock_item_are_ignored(world: World) -> None:
    response = world.handle(
        [
            record("MODIFY", TECH.partition, TECH.sort_key, world.seq()),
            record("INSERT", "_RECONCILER", "lease", world.seq()),
        ]
    )
    assert response == {"batchItemFailures": []}
    assert world.store.calls == []
    assert world.last_metrics()[spec.METRIC_RECORDS_IGNORED] == 2


def test_modify_only_traffic_needs_no_lookup_and_no_write(world: World) -> None:
    world.handle([modify("workshop", "a@example.com", world.seq())])
    assert world.locator.lookups == []
    assert world.store.calls == []


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

    world.store.before_write = reconciler_writes
    world.handle([remove("workshop", f"p{i}@example.com", world.seq()) for i in range(2)])
    assert world.store.count(WORKSHOP) == 3
    assert world.store.version(WORKSHOP) == 8


def test_endless_conflicts_fail_only_that_event(world: World) -> None:
    world.store.put_event(WORKSHOP, 0)

    def always(key: EventKey) -> None:
        version = world.store.version(key)
        world.store.items[key]["counterVersion"] = {"N": str(version + 1)}

    world.store.before_write = always
    records = [
        *world.registrations("tech-summit-2024", 1),
        remove("workshop", "p@example.com", world.seq()),
    ]
    response = world.handle(records)
    assert response["batchItemFailures"] == [
        {"itemIdentifier": records[1]["dynamodb"]["SequenceNumber"]}
    ]
    writes = [name for name, key in world.store.calls if key == WORKSHOP]
    assert writes.count("write_if_unchanged") == 5


def test_one_metrics_line_per_invocation_with_every_counter(world: World) -> None:
    world.handle(world.registrations("workshop", 1))
    world.handle([])
    assert len(world.metrics.lines) == 2
    assert set(world.metrics.lines[0]) == {
        spec.METRIC_RECORDS_INSERT,
        spec.METRIC_RECORDS_REMOVE,
        spec.METRIC_RECORDS_MODIFY,
        spec.METRIC_RECORDS_IGNORED,
        spec.METRIC_COUNTER_UPDATES,
        spec.METRIC_DUPLICATES_SKIPPED,
        spec.METRIC_ORPHAN_RECORDS,
        spec.METRIC_AMBIGUOUS_RECORDS,
        spec.METRIC_MALFORMED_RECORDS,
        spec.METRIC_CLAMPED_AT_ZERO,
        spec.METRIC_PARTIAL_BATCH_FAILURES,
    }


def test_called_as_lambda_calls_it_the_request_id_tags_every_log_line(
    world: World, logs: io.StringIO
) -> None:
    class Context:
        aws_request_id = "req-7"

    function = lambda_function(world.handler)
    response = function(batch(world.registrations("ghost-meetup", 1)), Context())

    assert response == {"batchItemFailures": []}
    orphaned = [e for e in events(logs) if e["event"] == "event_orphaned"]
    assert [e["request_id"] for e in orphaned] == ["req-7"]


def test_called_without_a_context_the_handler_still_applies_the_batch(world: World) -> None:
    function = lambda_function(world.handler)
    assert function(batch(world.registrations("workshop", 2)), None) == {"batchItemFailures": []}
    assert world.store.count(WORKSHOP) == 2


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
