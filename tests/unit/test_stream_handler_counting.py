"""What the handler does with a batch on the happy path: inserts add, removes subtract, one
write per event, the counter never below zero, records matched to their own event only (orphans
and ambiguous slugs counted, never guessed), counters it cannot read left for the reconciler,
one metrics line per invocation, and the Lambda wrapper around it."""

from __future__ import annotations

import io
import json
from typing import Any

import pytest

from reconciler.handler.entry import lambda_function
from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.logs import configure_logging
from reconciler.kernel.model import EventKey
from tests.fakes.handler import batch, modify, record, remove
from tests.unit.stream_handler_world import TECH, WORKSHOP, WORKSHOP_AI, World


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
    writes = [key for name, key in world.store.calls if name == "commit"]
    assert sorted(writes, key=str) == sorted([TECH, WORKSHOP], key=str)
    assert world.store.version(TECH) == 1


def test_every_applied_update_bumps_the_version(world: World) -> None:
    world.handle(world.registrations("tech-summit-2024", 2))
    world.handle(world.registrations("tech-summit-2024", 2))
    assert world.store.version(TECH) == 2


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


@pytest.mark.parametrize(
    ("stored", "reason"),
    [
        ({"N": "2.5"}, "fractional_counter"),
        ({"N": "9" * 38}, "counter_out_of_range"),
        ({"N": "-" + "9" * 38}, "counter_out_of_range"),
    ],
)
def test_a_fractional_or_enormous_counter_is_skipped_never_added_to_or_failed(
    world: World, logs: io.StringIO, stored: dict[str, str], reason: str
) -> None:
    # An ADD onto 2.5 would write 3.5; onto 10^38 DynamoDB refuses it and the batch would fail
    # on every retry.
    world.store.put_event(WORKSHOP, stored)
    response = world.handle(world.registrations("workshop", 1))
    assert response == {"batchItemFailures": []}
    assert world.store.items[WORKSHOP]["attendeeCount"] == stored
    assert world.last_metrics()[spec.METRIC_MALFORMED_RECORDS] == 1
    reasons = [e.get("reason") for e in events(logs) if e["event"] == "stream_record_malformed"]
    assert reasons == [reason]


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
