"""The handler against a moto server, fed with records read from the table's real stream."""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError

from reconciler.handler import entry as stream_handler
from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.model import EventKey, pad_sequence
from tests.integration.traffic import Table

TECH = EventKey("FAD", "tech-summit-2024#2024-10-27#conference")
WORKSHOP = EventKey("EVENT", "workshop#2024-11-15#workshop")
WORKSHOP_AI = EventKey("EVENT", "workshop-ai#2024-11-15#workshop")


@pytest.fixture
def table(clients, table_name) -> Table:  # type: ignore[no-untyped-def]
    return Table(clients, table_name)


@pytest.fixture
def update_calls(table: Table) -> Iterator[list[str]]:
    """Counts UpdateItem requests through botocore's own event hooks (no mocking)."""
    calls: list[str] = []

    def count(**_kwargs: Any) -> None:
        calls.append("UpdateItem")

    events = table.ddb.meta.events
    events.register("before-call.dynamodb.UpdateItem", count)
    yield calls
    events.unregister("before-call.dynamodb.UpdateItem", count)


def metrics(table: Table) -> list[dict[str, Any]]:
    return [json.loads(line) for line in table.emf.getvalue().splitlines()]


def total(table: Table, name: str) -> int:
    return sum(int(line[name]) for line in metrics(table))


def deliver(table: Table, records: list[dict[str, Any]], size: int = 10) -> None:
    handler = table.handler()
    for start in range(0, len(records), size):
        assert handler.handle({"Records": records[start : start + size]}) == {
            "batchItemFailures": []
        }


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


def test_exactly_one_update_item_per_event_per_batch(table: Table, update_calls: list[str]) -> None:
    table.put_event(TECH)
    table.put_event(WORKSHOP)
    for i in range(5):
        table.register("tech-summit-2024", f"t{i}@example.com")
        table.register("workshop", f"w{i}@example.com")
    records = table.attendee_records()
    assert len(records) == 10

    table.handler().handle({"Records": records})

    assert len(update_calls) == 2
    assert (table.stored(TECH), table.stored(WORKSHOP)) == (5, 5)


def test_applied_update_records_sequence_and_bumps_version(table: Table) -> None:
    table.put_event(WORKSHOP, 4)
    table.register("workshop", "a@example.com")
    table.register("workshop", "b@example.com")
    records = table.attendee_records()
    deliver(table, records)
    item = table.item(WORKSHOP)
    assert item["attendeeCount"] == {"N": "6"}
    assert item["counterVersion"] == {"N": "1"}
    assert item["counterSeq"] == {"S": pad_sequence(records[-1]["dynamodb"]["SequenceNumber"])}


@pytest.fixture
def applied_batch(table: Table) -> list[dict[str, Any]]:
    """A batch mixing two events, every kind of change, already applied once."""
    table.put_event(TECH, 2)
    table.put_event(WORKSHOP, 0)
    table.register("tech-summit-2024", "t1@example.com")
    table.register("workshop", "w1@example.com")
    table.register("tech-summit-2024", "t2@example.com")
    table.unregister("tech-summit-2024", "t1@example.com")
    table.change_profession("workshop", "w1@example.com", "Chemist")
    table.register("workshop", "w2@example.com")
    table.unregister("workshop", "w1@example.com")
    table.register("tech-summit-2024", "t3@example.com")
    records = table.attendee_records()
    assert len(records) == 8
    deliver(table, records)
    assert (table.stored(TECH), table.stored(WORKSHOP)) == (4, 1)
    return records


def test_replayed_batch_changes_no_counter(
    table: Table, applied_batch: list[dict[str, Any]]
) -> None:
    before = (table.item(TECH), table.item(WORKSHOP))
    deliver(table, applied_batch)
    assert (table.item(TECH), table.item(WORKSHOP)) == before
    assert total(table, spec.METRIC_DUPLICATES_SKIPPED) == 8


@pytest.mark.parametrize("start", range(1, 8))
def test_replay_from_any_record_onward_changes_no_counter(
    table: Table, applied_batch: list[dict[str, Any]], start: int
) -> None:
    before = (table.item(TECH), table.item(WORKSHOP))
    deliver(table, applied_batch[start:])
    assert (table.item(TECH), table.item(WORKSHOP)) == before


def test_replay_after_a_reconciler_correction_changes_nothing(
    table: Table, applied_batch: list[dict[str, Any]]
) -> None:
    # GIVEN the reconciler corrected the count meanwhile (and bumped the version)
    table.ddb.update_item(
        TableName=table.name,
        Key={"pk": {"S": TECH.partition}, "sk": {"S": TECH.sort_key}},
        UpdateExpression="SET attendeeCount = :c ADD counterVersion :one",
        ExpressionAttributeValues={":c": {"N": "3"}, ":one": {"N": "1"}},
    )
    deliver(table, applied_batch)
    assert table.stored(TECH) == 3


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


@pytest.mark.parametrize(
    "stored", [{"N": "5"}, {"S": "not-a-sequence"}], ids=["number", "garbage string"]
)
def test_counter_seq_of_the_wrong_shape_is_replaced_not_fatal(
    table: Table, stored: dict[str, str]
) -> None:
    # GIVEN an event item whose counterSeq someone overwrote with something else
    table.put_event(WORKSHOP, 2)
    table.ddb.update_item(
        TableName=table.name,
        Key={"pk": {"S": WORKSHOP.partition}, "sk": {"S": WORKSHOP.sort_key}},
        UpdateExpression="SET counterSeq = :s",
        ExpressionAttributeValues={":s": stored},
    )
    table.register("workshop", "w@example.com")
    records = table.attendee_records()
    # WHEN the registration is delivered, and delivered again
    deliver(table, records)
    deliver(table, records)
    # THEN it counts once and the item carries a proper sequence again
    item = table.item(WORKSHOP)
    assert item["attendeeCount"] == {"N": "3"}
    assert item["counterSeq"] == {"S": pad_sequence(records[-1]["dynamodb"]["SequenceNumber"])}


def _corrupt(record: dict[str, Any], how: str) -> object:
    broken = copy.deepcopy(record)
    body = broken["dynamodb"]
    if how == "no_keys":
        del body["Keys"]
    elif how == "numeric_pk":
        body["Keys"]["pk"] = {"N": "7"}
    elif how == "unknown_event_name":
        broken["eventName"] = "TRUNCATE"
    elif how == "no_new_image":
        body.pop("NewImage", None)
    elif how == "keys_only":
        body.pop("NewImage", None)
        body.pop("OldImage", None)
        body["StreamViewType"] = "KEYS_ONLY"
    elif how == "bad_sequence":
        body["SequenceNumber"] = "12-34"
    elif how == "no_sequence":
        del body["SequenceNumber"]
    elif how == "not_a_dict":
        return json.dumps(broken)
    elif how == "no_dynamodb":
        del broken["dynamodb"]
    return broken


CORRUPTIONS = [
    "no_keys",
    "numeric_pk",
    "unknown_event_name",
    "no_new_image",
    "keys_only",
    "bad_sequence",
    "no_sequence",
    "not_a_dict",
    "no_dynamodb",
]


def test_malformed_corpus_is_skipped_and_the_rest_is_counted(table: Table) -> None:
    table.put_event(WORKSHOP)
    for i in range(3):
        table.register("workshop", f"w{i}@example.com")
    good = table.attendee_records()
    corpus = [_corrupt(good[0], how) for how in CORRUPTIONS]
    batch: list[object] = [good[0], *corpus[:4], good[1], *corpus[4:], good[2]]

    response = table.handler().handle({"Records": batch})

    assert response == {"batchItemFailures": []}
    assert table.stored(WORKSHOP) == 3
    assert total(table, spec.METRIC_MALFORMED_RECORDS) == len(CORRUPTIONS)


def test_failed_event_is_reported_and_the_retry_counts_it_once(table: Table) -> None:
    table.put_event(TECH)
    table.put_event(WORKSHOP)
    table.register("tech-summit-2024", "t@example.com")
    table.register("workshop", "w1@example.com")
    table.register("tech-summit-2024", "u@example.com")
    records = table.attendee_records()

    # GIVEN DynamoDB keeps throttling writes to the workshop's event item (a botocore hook
    # answers before the request is sent, as the service would after boto3's retries)
    def throttle_workshop(params: dict[str, Any], **_kwargs: Any) -> None:
        if params["Key"]["sk"]["S"] == WORKSHOP.sort_key:
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                "UpdateItem",
            )

    events = table.ddb.meta.events
    events.register("before-parameter-build.dynamodb.UpdateItem", throttle_workshop)
    response = table.handler().handle({"Records": records})
    events.unregister("before-parameter-build.dynamodb.UpdateItem", throttle_workshop)

    # THEN the tech summit is counted and the batch resumes at the workshop's first record
    first_workshop = records[1]["dynamodb"]["SequenceNumber"]
    assert response == {"batchItemFailures": [{"itemIdentifier": first_workshop}]}
    assert table.stored(TECH) == 2
    assert total(table, spec.METRIC_PARTIAL_BATCH_FAILURES) == 1

    # WHEN Lambda retries from the reported record
    deliver(table, records[1:])
    # THEN every record counted exactly once
    assert (table.stored(TECH), table.stored(WORKSHOP)) == (2, 1)


@pytest.mark.parametrize("operation", ["UpdateItem", "Query"])
def test_a_dropped_connection_fails_only_that_event(table: Table, operation: str) -> None:
    """botocore errors that translate_error passes through (a connection closed after the
    client's retries) must still be one event's failure, not an exception for the batch."""
    table.put_event(TECH)
    table.put_event(WORKSHOP)
    table.register("tech-summit-2024", "t@example.com")
    table.register("workshop", "w@example.com")
    records = table.attendee_records()

    def drop_workshop(params: dict[str, Any], **_kwargs: Any) -> None:
        values = json.dumps(params)
        if "workshop" in values:
            raise ConnectionClosedError(endpoint_url="http://127.0.0.1")

    events = table.ddb.meta.events
    events.register(f"before-parameter-build.dynamodb.{operation}", drop_workshop)
    try:
        response = table.handler().handle({"Records": records})
    finally:
        events.unregister(f"before-parameter-build.dynamodb.{operation}", drop_workshop)

    first_workshop = records[1]["dynamodb"]["SequenceNumber"]
    assert response == {"batchItemFailures": [{"itemIdentifier": first_workshop}]}
    assert table.stored(TECH) == 1
    assert total(table, spec.METRIC_PARTIAL_BATCH_FAILURES) == 1


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
