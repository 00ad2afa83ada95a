"""The pump's pure parts, and its shard handling against an in-memory streams service."""

from __future__ import annotations

import base64
import datetime as dt
from typing import Any

import pytest
from botocore.exceptions import ClientError

from reconciler.devtools.pump.faults import FaultPlan
from reconciler.devtools.pump.mapping import PumpConfig, StreamPump
from reconciler.handler.lambda_shape import (
    lambda_context,
    lambda_event,
    lambda_record,
    retry_index,
)
from reconciler.kernel import deployment_spec as spec

NUMBERS = ["100", "200", "300", "1000"]


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        (None, None),
        ({}, None),
        ("ok", None),
        ({"batchItemFailures": None}, None),
        ({"batchItemFailures": []}, None),
        ({"batchItemFailures": [{"itemIdentifier": "300"}]}, 2),
        ({"batchItemFailures": [{"itemIdentifier": "1000"}, {"itemIdentifier": "200"}]}, 1),
        ({"batchItemFailures": [{"itemIdentifier": ""}]}, 0),
        ({"batchItemFailures": [{"itemIdentifier": None}]}, 0),
        ({"batchItemFailures": [{"id": "300"}]}, 0),
        ({"batchItemFailures": [{"itemIdentifier": "42"}]}, 0),
        ({"batchItemFailures": ["300"]}, 0),
        ({"batchItemFailures": "300"}, 0),
    ],
)
def test_retry_index_follows_lambdas_partial_batch_contract(
    response: object, expected: int | None
) -> None:
    assert retry_index(response, NUMBERS) == expected


def test_lambda_record_converts_what_boto3_parsed_back_to_lambdas_json() -> None:
    raw = {
        "eventID": "e1",
        "eventName": "REMOVE",
        "eventVersion": "1.0",
        "eventSource": "aws:dynamodb",
        "awsRegion": "eu-west-1",
        "userIdentity": {"type": "Service", "principalId": "dynamodb.amazonaws.com"},
        "dynamodb": {
            "ApproximateCreationDateTime": dt.datetime(2024, 10, 27, 9, 30, 15, 400000, dt.UTC),
            "Keys": {"pk": {"S": "a#ATTENDEE"}, "sk": {"S": "x"}},
            "OldImage": {"blob": {"B": b"\x00\x01"}, "blobs": {"BS": [b"hi"]}},
            "SequenceNumber": "123",
            "SizeBytes": 40,
            "StreamViewType": "NEW_AND_OLD_IMAGES",
        },
    }
    shaped = lambda_record(raw, "arn:stream", "us-east-1")
    assert shaped["eventVersion"] == "1.1"
    assert shaped["awsRegion"] == "eu-west-1"
    assert shaped["eventSourceARN"] == "arn:stream"
    assert shaped["userIdentity"]["type"] == "Service"
    body = shaped["dynamodb"]
    assert body["ApproximateCreationDateTime"] == 1730021415
    assert body["OldImage"]["blob"] == {"B": base64.b64encode(b"\x00\x01").decode()}
    assert body["OldImage"]["blobs"] == {"BS": [base64.b64encode(b"hi").decode()]}
    assert "NewImage" not in body


def test_each_invocation_gets_its_own_json_copy_of_the_batch() -> None:
    records = [{"dynamodb": {"SequenceNumber": "1", "Keys": {"pk": {"S": "a#ATTENDEE"}}}}]
    event = lambda_event(records)
    assert event == {"Records": records}
    event["Records"][0]["dynamodb"]["SequenceNumber"] = "2"
    assert records[0]["dynamodb"]["SequenceNumber"] == "1"


def test_each_invocation_gets_a_fresh_request_id_and_the_full_timeout() -> None:
    first, second = lambda_context("fn", "eu-west-1"), lambda_context("fn", "eu-west-1")
    assert first.aws_request_id != second.aws_request_id
    assert first.invoked_function_arn == "arn:aws:lambda:eu-west-1:000000000000:function:fn"
    assert 0 < first.get_remaining_time_in_millis() <= spec.HANDLER_TIMEOUT_SECONDS * 1000


@pytest.mark.parametrize(
    "kwargs",
    [
        {"batch_size": 0},
        {"batching_window": -1},
        {"max_retries": -1},
        {"starting_position": "AT_TIMESTAMP"},
        {"read_limit": 1001},
    ],
)
def test_impossible_mapping_settings_are_refused(kwargs: dict[str, Any]) -> None:
    with pytest.raises(ValueError):  # noqa: PT011 - the message is the config's own
        PumpConfig(**kwargs)


def test_fault_rates_outside_zero_to_one_are_refused() -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        FaultPlan(drop_rate=1.5)


def test_explicit_fault_indexes_apply_exactly() -> None:
    plan = FaultPlan(
        duplicate_batches=frozenset({1}),
        drop_batches=frozenset({2}),
        delay_batches=frozenset({3}),
        delay_seconds=4,
    )
    faults = [plan.faults_for(i) for i in range(5)]
    assert [f.duplicate for f in faults] == [False, True, False, False, False]
    assert [f.drop for f in faults] == [False, False, True, False, False]
    assert [f.delay for f in faults] == [0, 0, 0, 4, 0]


def test_fault_draws_depend_on_seed_and_index_only() -> None:
    plan = FaultPlan(duplicate_rate=0.5, seed=3)
    first, _, again = (plan.faults_for(i) for i in (9, 4, 9))
    assert first == again
    other = FaultPlan(duplicate_rate=0.5, seed=4)
    assert [plan.faults_for(i) for i in range(40)] != [other.faults_for(i) for i in range(40)]


# --- shards ---------------------------------------------------------------------------------


class FakeStreams:
    """The three dynamodbstreams calls the pump makes, over in-memory shards."""

    def __init__(self, shards: list[dict[str, Any]]) -> None:
        self.shards = shards
        self.expire_next = 0
        self.iterator_requests: list[dict[str, Any]] = []

    def describe_stream(self, **_kwargs: Any) -> dict[str, Any]:
        listed = [
            {"ShardId": s["id"], **({"ParentShardId": s["parent"]} if s.get("parent") else {})}
            for s in self.shards
        ]
        return {"StreamDescription": {"Shards": listed}}

    def get_shard_iterator(self, **kwargs: Any) -> dict[str, Any]:
        self.iterator_requests.append(kwargs)
        shard = next(s for s in self.shards if s["id"] == kwargs["ShardId"])
        position = 0
        if kwargs["ShardIteratorType"] == "AFTER_SEQUENCE_NUMBER":
            numbers = [r["dynamodb"]["SequenceNumber"] for r in shard["records"]]
            position = numbers.index(kwargs["SequenceNumber"]) + 1
        return {"ShardIterator": f"{shard['id']}|{position}"}

    def get_records(self, ShardIterator: str, Limit: int) -> dict[str, Any]:  # noqa: N803
        if self.expire_next:
            self.expire_next -= 1
            raise ClientError(
                {"Error": {"Code": "ExpiredIteratorException", "Message": "expired"}},
                "GetRecords",
            )
        shard_id, position = ShardIterator.split("|")
        shard = next(s for s in self.shards if s["id"] == shard_id)
        start = int(position)
        records = shard["records"][start : start + min(Limit, 2)]
        end = start + len(records)
        response: dict[str, Any] = {"Records": records}
        if not (shard.get("closed") and end >= len(shard["records"])):
            response["NextShardIterator"] = f"{shard_id}|{end}"
        return response


def records(*numbers: int) -> list[dict[str, Any]]:
    return [
        {
            "eventID": str(n),
            "eventName": "INSERT",
            "dynamodb": {
                "Keys": {"pk": {"S": "a#ATTENDEE"}, "sk": {"S": f"p{n}"}},
                "SequenceNumber": str(n),
            },
        }
        for n in numbers
    ]


def delivered(streams: FakeStreams, **config: Any) -> list[str]:
    seen: list[str] = []

    def handler(event: dict[str, Any], _context: Any) -> None:
        seen.extend(r["dynamodb"]["SequenceNumber"] for r in event["Records"])

    settings = {"batch_size": 3, "batching_window": 0.0, **config}
    StreamPump(
        streams,
        "arn",
        handler,
        region="us-east-1",
        config=PumpConfig(**settings),
        sleep=lambda _: None,
    ).drain()
    return seen


def test_children_wait_until_their_parent_shard_is_fully_delivered() -> None:
    streams = FakeStreams(
        [
            {"id": "child-b", "parent": "parent", "records": records(20, 21)},
            {"id": "child-a", "parent": "parent", "records": records(30)},
            {"id": "parent", "records": records(1, 2, 3, 4, 5), "closed": True},
        ]
    )
    seen = delivered(streams)
    assert seen[:5] == ["1", "2", "3", "4", "5"]
    assert sorted(seen[5:]) == ["20", "21", "30"]


def test_a_shard_whose_parent_was_trimmed_away_is_read_at_once() -> None:
    streams = FakeStreams([{"id": "orphan-child", "parent": "gone", "records": records(7, 8)}])
    assert delivered(streams) == ["7", "8"]


def test_an_expired_iterator_resumes_after_the_last_record_read() -> None:
    streams = FakeStreams([{"id": "s", "records": records(1, 2, 3, 4, 5)}])
    pump = StreamPump(
        streams,
        "arn",
        lambda event, context: None,
        region="us-east-1",
        config=PumpConfig(batch_size=10, batching_window=0.0),
        sleep=lambda _: None,
    )
    pump.step()  # reads 1, 2
    streams.expire_next = 1
    stats = pump.drain()
    assert stats.records_read == 5
    assert streams.iterator_requests[-1] == {
        "StreamArn": "arn",
        "ShardId": "s",
        "ShardIteratorType": "AFTER_SEQUENCE_NUMBER",
        "SequenceNumber": "2",
    }


def test_reopened_iterators_resume_after_the_last_record_read_at_every_poll() -> None:
    streams = FakeStreams([{"id": "s", "records": records(1, 2, 3, 4, 5)}])

    seen = delivered(streams, reopen_iterators=True)

    assert seen == ["1", "2", "3", "4", "5"]
    assert [request.get("SequenceNumber") for request in streams.iterator_requests] == [
        None,  # the first poll starts at TRIM_HORIZON
        "2",
        "4",
        "5",
    ]
