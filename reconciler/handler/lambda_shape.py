"""Lambda's side of the DynamoDB stream contract, as pure functions.

What the function receives (records converted from what boto3 parsed back to Lambda's JSON,
wrapped in an event, with a context object) and what Lambda makes of the function's answer
(:func:`retry_index`, the partial batch response). The pump speaks only through these, so the
handler is exercised against the same shapes Lambda hands it in AWS.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from reconciler.kernel import deployment_spec as spec

Handler = Callable[[dict[str, Any], Any], object]
"""Anything callable like a Lambda handler: ``(event, context) -> response``."""

LAMBDA_EVENT_VERSION = "1.1"


@dataclass(frozen=True, slots=True)
class PumpContext:
    """The parts of Lambda's context object a handler may use."""

    function_name: str
    aws_request_id: str
    invoked_function_arn: str
    memory_limit_in_mb: int = spec.HANDLER_MEMORY_MB
    deadline: float = 0.0

    def get_remaining_time_in_millis(self) -> int:
        return max(0, int((self.deadline - time.monotonic()) * 1000))


def lambda_context(function_name: str, region: str) -> PumpContext:
    """A fresh context per invocation, as Lambda gives one: new request id, full timeout."""
    return PumpContext(
        function_name=function_name,
        aws_request_id=str(uuid.uuid4()),
        invoked_function_arn=f"arn:aws:lambda:{region}:000000000000:function:{function_name}",
        deadline=time.monotonic() + spec.HANDLER_TIMEOUT_SECONDS,
    )


def lambda_event(records: Sequence[Mapping[str, Any]]) -> dict[str, Any]:
    """The invocation's event. A JSON round trip: the handler gets exactly what Lambda would
    send, and its own copy, so it cannot change the batch a retry re-delivers."""
    loaded: dict[str, Any] = json.loads(json.dumps({"Records": list(records)}))
    return loaded


def _epoch(value: object) -> object:
    """boto3 parses ``ApproximateCreationDateTime`` into a datetime; Lambda sends whole
    epoch seconds (the stream's default SECOND precision)."""
    if isinstance(value, dt.datetime):
        return int(value.timestamp())
    return value


def _lambda_value(value: Any) -> Any:
    """Binary attribute values arrive as bytes from boto3; Lambda's JSON carries base64."""
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    if isinstance(value, Mapping):
        return {key: _lambda_value(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_lambda_value(item) for item in value]
    return value


def lambda_record(record: Mapping[str, Any], stream_arn: str, region: str) -> dict[str, Any]:
    """One ``GetRecords`` record as Lambda hands it to the function."""
    body = record.get("dynamodb", {})
    dynamodb: dict[str, Any] = {}
    if "ApproximateCreationDateTime" in body:
        dynamodb["ApproximateCreationDateTime"] = _epoch(body["ApproximateCreationDateTime"])
    for name in ("Keys", "NewImage", "OldImage"):
        if name in body:
            dynamodb[name] = _lambda_value(body[name])
    for name in ("SequenceNumber", "SizeBytes", "StreamViewType"):
        if name in body:
            dynamodb[name] = body[name]
    shaped: dict[str, Any] = {
        "eventID": record.get("eventID"),
        "eventName": record.get("eventName"),
        "eventVersion": LAMBDA_EVENT_VERSION,
        "eventSource": "aws:dynamodb",
        "awsRegion": record.get("awsRegion") or region,
        "dynamodb": dynamodb,
        "eventSourceARN": stream_arn,
    }
    if "userIdentity" in record:  # TTL deletions carry the DynamoDB service principal
        shaped["userIdentity"] = dict(record["userIdentity"])
    return shaped


def sequence_number(record: Mapping[str, Any]) -> str:
    """A Lambda-shaped record's sequence number: the identifier partial failures name."""
    return str(record["dynamodb"]["SequenceNumber"])


def retry_index(response: object, sequence_numbers: Sequence[str]) -> int | None:
    """Where Lambda resumes after this response: None = batch done, else the record index.

    Success: no response, an empty response, or an empty or null ``batchItemFailures``.
    Complete failure (0): an identifier that is empty, null, missing or not in the batch. Of
    several failures the lowest sequence number wins.
    """
    if not isinstance(response, Mapping):
        return None
    failures = response.get("batchItemFailures")
    if failures is None:
        return None
    if not isinstance(failures, list):
        return 0
    if not failures:
        return None
    position = {number: index for index, number in enumerate(sequence_numbers)}
    indexes: list[int] = []
    for failure in failures:
        identifier = failure.get("itemIdentifier") if isinstance(failure, Mapping) else None
        if not isinstance(identifier, str) or identifier not in position:
            return 0
        indexes.append(position[identifier])
    return min(indexes)
