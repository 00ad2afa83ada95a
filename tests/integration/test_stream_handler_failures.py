"""The handler against a moto stream when records or DynamoDB fail it: a corpus of malformed
records is skipped and the rest counted, and a throttled or dropped write fails only its own
event, reported from its first record, so the retry counts every record once."""

from __future__ import annotations

import copy
import json
from typing import Any

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError

from reconciler.kernel import deployment_spec as spec
from tests.integration.stream_handler_support import TECH, WORKSHOP, deliver, total
from tests.integration.traffic import Table


@pytest.fixture
def table(clients, table_name) -> Table:  # type: ignore[no-untyped-def]
    return Table(clients, table_name)


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
        if WORKSHOP.sort_key in json.dumps(params):
            raise ClientError(
                {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "slow"}},
                "TransactWriteItems",
            )

    events = table.ddb.meta.events
    events.register("before-parameter-build.dynamodb.TransactWriteItems", throttle_workshop)
    response = table.handler().handle({"Records": records})
    events.unregister("before-parameter-build.dynamodb.TransactWriteItems", throttle_workshop)

    # THEN the tech summit is counted and the batch resumes at the workshop's first record
    first_workshop = records[1]["dynamodb"]["SequenceNumber"]
    assert response == {"batchItemFailures": [{"itemIdentifier": first_workshop}]}
    assert table.stored(TECH) == 2
    assert total(table, spec.METRIC_PARTIAL_BATCH_FAILURES) == 1

    # WHEN Lambda retries from the reported record
    deliver(table, records[1:])
    # THEN every record counted exactly once
    assert (table.stored(TECH), table.stored(WORKSHOP)) == (2, 1)


@pytest.mark.parametrize("operation", ["TransactWriteItems", "BatchGetItem", "Query"])
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
