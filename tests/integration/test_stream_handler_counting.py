"""The handler against a moto server, fed with records read from the table's real stream:
exact counts, one UpdateItem per event per batch, records matched to their own event only,
the counter never below zero, unreadable counters left for the reconciler, and the Lambda
entry point built from its environment."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from reconciler.handler import entry as stream_handler
from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.ledger import Entry, Position, item_hash, stream_label
from reconciler.kernel.model import EventKey, pad_sequence
from tests.integration.stream_handler_support import TECH, WORKSHOP, WORKSHOP_AI, deliver, total
from tests.integration.traffic import Table


@pytest.fixture
def table(clients, table_name) -> Table:  # type: ignore[no-untyped-def]
    return Table(clients, table_name)


@pytest.fixture
def write_calls(table: Table) -> Iterator[list[str]]:
    """Counts write and read requests through botocore's own event hooks (no mocking)."""
    calls: list[str] = []

    def count(model: Any, **_kwargs: Any) -> None:
        calls.append(model.name)

    events = table.ddb.meta.events
    for operation in ("TransactWriteItems", "BatchGetItem", "UpdateItem"):
        events.register(f"before-call.dynamodb.{operation}", count)
    yield calls
    for operation in ("TransactWriteItems", "BatchGetItem", "UpdateItem"):
        events.unregister(f"before-call.dynamodb.{operation}", count)


def test_counts_are_exact_after_mixed_insert_remove_modify_traffic(table: Table) -> None:
    table.put_event(TECH)
    table.put_event(WORKSHOP)
    for i in range(14):
        table.register("tech-summit-2024", f"t{i}@example.com")
    for i in range(6):
        table.register("workshop", f"w{i}@example.com")
    for i in range(0, 14, 3):
        table.unregister("tech-summit-2024", f"t{i}@example.com")
    table.change_profession("workshop", "w1@example.com", "Architect")
    table.unregister("workshop", "w2@example.com")
    table.register("workshop", "w2@example.com")  # re-registration after removal

    deliver(table, table.records())

    assert table.stored(TECH) == table.true_count("tech-summit-2024") == 9
    assert table.stored(WORKSHOP) == table.true_count("workshop") == 6
    assert total(table, spec.METRIC_RECORDS_MODIFY) == 1


def test_exactly_one_read_and_one_transaction_per_event_per_batch(
    table: Table, write_calls: list[str]
) -> None:
    table.put_event(TECH)
    table.put_event(WORKSHOP)
    for i in range(5):
        table.register("tech-summit-2024", f"t{i}@example.com")
        table.register("workshop", f"w{i}@example.com")
    records = table.attendee_records()
    assert len(records) == 10

    table.handler().handle({"Records": records})

    assert sorted(write_calls) == ["BatchGetItem"] * 2 + ["TransactWriteItems"] * 2
    assert (table.stored(TECH), table.stored(WORKSHOP)) == (5, 5)


def test_applied_update_records_each_items_position_in_the_ledger_and_bumps_version(
    table: Table,
) -> None:
    table.put_event(WORKSHOP, 4)
    table.register("workshop", "a@example.com")
    table.register("workshop", "b@example.com")
    records = table.attendee_records()
    deliver(table, records)
    item = table.item(WORKSHOP)
    assert item["attendeeCount"] == {"N": "6"}
    assert item["counterVersion"] == {"N": "1"}
    label = stream_label(records[0]["eventSourceARN"])
    assert label
    entries = table.ledger("workshop")
    assert entries == {
        item_hash("workshop#ATTENDEE", email): Entry(
            True, Position(label, pad_sequence(record["dynamodb"]["SequenceNumber"]))
        )
        for email, record in zip(("a@example.com", "b@example.com"), records, strict=True)
    }
    assert "a@example.com" not in json.dumps(table.ledger_items("workshop"))


def test_prefix_slug_counts_for_its_own_event_only(table: Table) -> None:
    table.put_event(WORKSHOP)
    table.put_event(WORKSHOP_AI)
    for i in range(3):
        table.register("workshop-ai", f"ai{i}@example.com")
    table.register("workshop", "w@example.com")
    deliver(table, table.records())
    assert (table.stored(WORKSHOP), table.stored(WORKSHOP_AI)) == (1, 3)


def test_slug_whose_only_event_has_a_longer_slug_is_an_orphan(table: Table) -> None:
    table.put_event(WORKSHOP_AI)
    table.register("workshop", "w@example.com")
    deliver(table, table.records())
    assert table.stored(WORKSHOP_AI) == 0
    assert total(table, spec.METRIC_ORPHAN_RECORDS) == 1


def test_a_slug_too_long_for_any_sort_key_is_an_orphan_without_a_query(table: Table) -> None:
    # an attendee pk may hold 2048 bytes, an event's sort key only 1024: a longer prefix can
    # never match, and DynamoDB answers such a key condition with a ValidationException
    table.put_event(WORKSHOP)
    table.register("x" * 1100, "w@example.com")
    records = table.attendee_records()
    queries: list[str] = []

    def count(**_kwargs: Any) -> None:
        queries.append("Query")

    table.ddb.meta.events.register("before-call.dynamodb.Query", count)
    try:
        response = table.handler().handle({"Records": records})
    finally:
        table.ddb.meta.events.unregister("before-call.dynamodb.Query", count)
    assert response == {"batchItemFailures": []}
    assert queries == []
    assert total(table, spec.METRIC_ORPHAN_RECORDS) == 1


def test_orphan_and_ambiguous_records_are_counted_and_the_batch_succeeds(table: Table) -> None:
    table.put_event(WORKSHOP)
    table.put_event(EventKey("FAD", "tech-summit-2024#2024-10-27#conference"))
    table.put_event(EventKey("EVENT", "tech-summit-2024#2024-10-28#expo"))
    table.register("tech-summit-2024", "t@example.com")
    table.register("ghost-meetup", "g1@example.com")
    table.register("ghost-meetup", "g2@example.com")
    table.register("workshop", "w@example.com")

    deliver(table, table.records())

    assert table.stored(WORKSHOP) == 1
    assert table.stored(TECH) == 0
    assert total(table, spec.METRIC_AMBIGUOUS_RECORDS) == 1
    assert total(table, spec.METRIC_ORPHAN_RECORDS) == 2


def test_counter_never_goes_below_zero(table: Table) -> None:
    table.put_event(WORKSHOP, 0)
    for i in range(3):
        table.register("workshop", f"w{i}@example.com")
    for i in range(3):
        table.unregister("workshop", f"w{i}@example.com")
    removals = [r for r in table.attendee_records() if r["eventName"] == "REMOVE"]

    deliver(table, removals)  # the registrations were "lost"

    assert table.stored(WORKSHOP) == 0
    assert total(table, spec.METRIC_CLAMPED_AT_ZERO) == 1


def test_a_negative_count_is_never_added_to(table: Table) -> None:
    # GIVEN a count the old, unclamped handler drove below zero
    table.put_event(WORKSHOP, -3)
    table.register("workshop", "w@example.com")
    records = table.records()
    deliver(table, records)
    deliver(table, records)  # and a replay
    assert table.stored(WORKSHOP) == 1
    assert total(table, spec.METRIC_CLAMPED_AT_ZERO) == 1


def test_missing_count_attribute_is_created_by_the_first_registration(table: Table) -> None:
    table.put_event(WORKSHOP, None)
    table.register("workshop", "w@example.com")
    deliver(table, table.records())
    assert table.stored(WORKSHOP) == 1


def test_non_numeric_counter_is_left_for_the_reconciler(table: Table) -> None:
    table.put_event(WORKSHOP, "many")
    table.put_event(TECH)
    table.register("workshop", "w@example.com")
    table.register("tech-summit-2024", "t@example.com")
    deliver(table, table.records())
    assert table.item(WORKSHOP)["attendeeCount"] == {"S": "many"}
    assert table.stored(TECH) == 1
    assert total(table, spec.METRIC_MALFORMED_RECORDS) == 1


def test_non_numeric_counter_is_left_alone_by_removals_too(table: Table) -> None:
    table.put_event(WORKSHOP, "many")
    table.register("workshop", "w@example.com")
    table.unregister("workshop", "w@example.com")
    table.unregister("workshop", "v@example.com")  # deleting nothing writes no record
    removal = [r for r in table.attendee_records() if r["eventName"] == "REMOVE"]
    assert table.handler().handle({"Records": removal}) == {"batchItemFailures": []}
    assert table.item(WORKSHOP)["attendeeCount"] == {"S": "many"}
    assert total(table, spec.METRIC_MALFORMED_RECORDS) == 1


def test_non_numeric_version_is_left_for_the_reconciler(table: Table) -> None:
    table.put_event(WORKSHOP, 2)
    table.ddb.update_item(
        TableName=table.name,
        Key={"pk": {"S": WORKSHOP.partition}, "sk": {"S": WORKSHOP.sort_key}},
        UpdateExpression="SET counterVersion = :v",
        ExpressionAttributeValues={":v": {"S": "v7"}},
    )
    table.register("workshop", "w@example.com")
    deliver(table, table.records())
    assert table.stored(WORKSHOP) == 2
    assert total(table, spec.METRIC_MALFORMED_RECORDS) == 1


def test_lambda_entry_point_builds_from_its_environment(
    table: Table, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    table.put_event(WORKSHOP)
    table.register("workshop", "w@example.com")
    records = table.records()
    monkeypatch.setenv("TABLE_NAME", table.name)
    monkeypatch.setenv("RECONCILER_METRICS_NAMESPACE", "Staging/Counter")
    monkeypatch.setenv("AWS_LAMBDA_FUNCTION_NAME", "updateAttendeeCounter-staging")
    monkeypatch.setattr(stream_handler, "_warm", {})

    class Context:
        aws_request_id = "req-1"

    response = stream_handler.handler({"Records": records}, Context())

    assert response == {"batchItemFailures": []}
    assert table.stored(WORKSHOP) == 1
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert len(emf) == 1
    assert emf[0]["_aws"]["CloudWatchMetrics"][0]["Namespace"] == "Staging/Counter"
    assert emf[0]["FunctionName"] == "updateAttendeeCounter-staging"
    assert emf[0][spec.METRIC_RECORDS_INSERT] == 1
    assert "handler" in stream_handler._warm


def test_lambda_entry_point_without_table_name_fails_naming_the_setting(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from reconciler.kernel.errors import ConfigError

    monkeypatch.delenv("TABLE_NAME", raising=False)
    monkeypatch.setattr(stream_handler, "_warm", {})
    with pytest.raises(ConfigError, match="TABLE_NAME"):
        stream_handler.handler({"Records": []}, None)
