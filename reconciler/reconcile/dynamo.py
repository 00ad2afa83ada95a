"""The DynamoDB side of a pass: list events, read counters, count attendees, write corrections.

Every read is strongly consistent and paginated, asks for ``ConsumedCapacity`` and goes
through the shared read-rate limiter. Event items are streamed page by page from each event
partition and merged by sort key, so the items of one slug arrive next to each other (a sort
key prefix is a contiguous range) and ambiguity is seen without holding the events in memory.
"""

from __future__ import annotations

import base64
import heapq
import itertools
import json
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from reconciler.kernel.event_lookup import DynamoEventLocator
from reconciler.kernel.model import EventKey, ItemKind, TableModel, classify, integer_attribute
from reconciler.reconcile.core import Correction, CounterKind, StoredCounter
from reconciler.reconcile.metered import MeteredCalls, sort_key_bounds
from reconciler.reconcile.ports import EventGroup
from reconciler.reconcile.ratelimit import ReadRateLimiter
from reconciler.reconcile.summary import AwsErrorKey, IoStats

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

AttributeValue = dict[str, Any]

EVENT_PAGE_SIZE = 500
"""Event items per listing page. A full 1 MB page of event items parses into tens of MB of
Python objects (two partitions' pages are alive at once in the merge); 500 keeps the listing's
memory small and flat whatever the table size, for a negligible number of extra requests."""

_QUIET_CODES = frozenset(
    {
        "ConditionalCheckFailedException",
        "TransactionCanceledException",
        "TransactionConflictException",
    }
)
"""Expected answers, reported as conflicts rather than errors. The hook sees every request of the
shared client, the ledger adapter's transactions included, so it is the one place errors are
counted."""


def render_attribute(raw: AttributeValue) -> str:
    """The exact attribute as DynamoDB JSON text (binary as base64, as the AWS CLI shows it;
    set members sorted).

    botocore hands binary values over as ``bytes``, which ``json`` cannot encode; a counter
    someone wrote as ``B`` or ``BS`` must be reported as invalid, not crash the pass.
    """
    return json.dumps(_encode_binary(raw), sort_keys=True, separators=(",", ":"))


def parse_attribute(rendered: str) -> AttributeValue:
    """Inverse of :func:`render_attribute`: the attribute value to condition a write on."""
    value: AttributeValue = _decode_binary(json.loads(rendered))
    return value


def _encode_binary(value: Any) -> Any:
    if not isinstance(value, dict) or len(value) != 1:
        return value
    ((kind, inner),) = value.items()
    if kind == "B" and isinstance(inner, bytes | bytearray):
        return {"B": base64.b64encode(inner).decode("ascii")}
    if kind == "BS" and isinstance(inner, list):
        return {"BS": sorted(base64.b64encode(item).decode("ascii") for item in inner)}
    if kind in ("SS", "NS") and isinstance(inner, list):
        # Sets have no order: two reads of one unchanged set must render the same.
        return {kind: sorted(inner)}
    if kind == "M" and isinstance(inner, dict):
        return {"M": {name: _encode_binary(item) for name, item in inner.items()}}
    if kind == "L" and isinstance(inner, list):
        return {"L": [_encode_binary(item) for item in inner]}
    return value


def _decode_binary(value: Any) -> Any:
    if not isinstance(value, dict) or len(value) != 1:
        return value
    ((kind, inner),) = value.items()
    if kind == "B" and isinstance(inner, str):
        return {"B": base64.b64decode(inner)}
    if kind == "BS" and isinstance(inner, list):
        return {"BS": [base64.b64decode(item) for item in inner]}
    if kind == "M" and isinstance(inner, dict):
        return {"M": {name: _decode_binary(item) for name, item in inner.items()}}
    if kind == "L" and isinstance(inner, list):
        return {"L": [_decode_binary(item) for item in inner]}
    return value


def stored_counter(item: dict[str, AttributeValue], model: TableModel) -> StoredCounter:
    """Interpret the raw counter attributes of an event item."""
    raw_version = item.get(model.version_attr)
    version = None if raw_version is None else integer_attribute(raw_version)
    unreadable = raw_version is not None and version is None
    versions: dict[str, Any] = {
        "version": version,
        "version_unreadable": unreadable,
        "version_raw": render_attribute(raw_version) if unreadable and raw_version else None,
    }
    raw = item.get(model.counter_attr)
    if raw is None:
        return StoredCounter(CounterKind.MISSING, **versions)
    rendered = render_attribute(raw)
    value = integer_attribute(raw)
    if value is None:
        return StoredCounter(CounterKind.INVALID, raw=rendered, **versions)
    return StoredCounter(CounterKind.NUMBER, value=value, raw=rendered, **versions)


class DynamoReconcileTable:
    """Implements :class:`EventSource` and :class:`CounterTable` on one DynamoDB table.

    Thread-safe: the pass calls it from its worker threads. The client is injected; this class
    registers a ``needs-retry`` hook on it to count every failed attempt by operation and error
    code (so throttling that boto3 retried away is still visible). Call :meth:`close` to remove
    the hook when the client outlives this object.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        model: TableModel,
        limiter: ReadRateLimiter,
        *,
        event_page_size: int | None = EVENT_PAGE_SIZE,
        optional_table: str | None = None,
    ) -> None:
        self._client = client
        self._table = table_name
        self._model = model
        self._limiter = limiter
        self._page_size = event_page_size
        self._optional_table = optional_table
        self._calls = MeteredCalls(limiter)
        self._io = self._calls.tally
        self._locator = DynamoEventLocator(client, table_name, model)
        self._hook_id = f"reconciler-errors-{id(self)}"
        client.meta.events.register(
            "needs-retry.dynamodb", self._on_attempt, unique_id=self._hook_id
        )

    def close(self) -> None:
        self._client.meta.events.unregister(
            "needs-retry.dynamodb", self._on_attempt, unique_id=self._hook_id
        )

    # -- bookkeeping -------------------------------------------------------------------------

    def _on_attempt(self, **kwargs: Any) -> None:
        operation = getattr(kwargs.get("operation"), "name", "Unknown")
        response = kwargs.get("response")
        exception = kwargs.get("caught_exception")
        code: str | None = None
        if exception is not None:
            code = type(exception).__name__
        elif response is not None:
            parsed = response[1] if isinstance(response, tuple) and len(response) > 1 else {}
            error = parsed.get("Error") if isinstance(parsed, dict) else None
            if error:
                code = str(error.get("Code", "Unknown"))
        if (
            code is not None
            and code not in _QUIET_CODES
            and not self._absent_optional(code, kwargs)
        ):
            self._io.failed(AwsErrorKey(operation, code))

    def _absent_optional(self, code: str, kwargs: dict[str, Any]) -> bool:
        """The state table not existing is an answer (no event is in ledger mode), not an
        error: the client is shared with the ledger adapter, so this hook sees its requests."""
        if code != "ResourceNotFoundException" or not self._optional_table:
            return False
        body = (kwargs.get("request_dict") or {}).get("body")
        try:
            table = json.loads(body).get("TableName") if body else None
        except (TypeError, ValueError, AttributeError):
            return False
        return bool(table == self._optional_table)

    def stats(self) -> IoStats:
        return self._io.stats()

    def _read(self, operation: str, call: Any, **kwargs: Any) -> Any:
        return self._calls.call(operation, call, **kwargs)

    # -- EventSource -------------------------------------------------------------------------

    def _partition_items(
        self, partition: str, start: str | None, stop: str | None
    ) -> Iterator[tuple[EventKey, StoredCounter]]:
        model = self._model
        values: dict[str, AttributeValue] = {":pk": {"S": partition}}
        condition = "#pk = :pk" + sort_key_bounds(values, start, stop)
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": condition,
            "ExpressionAttributeNames": {
                "#pk": model.pk_attr,
                "#sk": model.sk_attr,
                "#count": model.counter_attr,
                "#ver": model.version_attr,
            },
            "ExpressionAttributeValues": values,
            # The counter comes along (a few bytes per event item): the rotating sweep chooses
            # what to recount from it without another read.
            "ProjectionExpression": "#pk, #sk, #count, #ver",
        }
        if self._page_size:
            kwargs["Limit"] = self._page_size
        while True:
            page = self._read("Query", self._client.query, **kwargs)
            for item in page.get("Items", []):
                sort_key = item.get(model.sk_attr, {}).get("S")
                ref = classify(partition, sort_key, model)
                # Anything else in an event partition (no ``<slug>#`` sort key) is not ours.
                if ref.kind is ItemKind.EVENT and isinstance(sort_key, str):
                    yield EventKey(partition, sort_key), stored_counter(dict(item), model)
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def events(self, start: str | None = None, stop: str | None = None) -> Iterator[EventGroup]:
        # DynamoDB orders string sort keys by UTF-8 bytes, which is Python's code point order.
        merged = heapq.merge(
            *(self._partition_items(p, start, stop) for p in self._model.event_partitions),
            key=lambda pair: pair[0].sort_key,
        )
        for slug, pairs in itertools.groupby(merged, key=lambda pair: pair[0].slug):
            items = tuple(pairs)
            yield EventGroup(slug, tuple(key for key, _ in items), listed=items[0][1])

    def event(self, slug: str) -> EventGroup | None:
        self._limiter.acquire(1.0)
        keys = self._locator.find_keys(slug)
        self._io.sent("Query", requests=len(self._model.event_partitions))
        return EventGroup(slug, tuple(keys)) if keys else None

    # -- CounterTable ------------------------------------------------------------------------

    def _key(self, key: EventKey) -> dict[str, AttributeValue]:
        return {
            self._model.pk_attr: {"S": key.partition},
            self._model.sk_attr: {"S": key.sort_key},
        }

    def read_counter(self, key: EventKey) -> StoredCounter | None:
        model = self._model
        response = self._read(
            "GetItem",
            self._client.get_item,
            TableName=self._table,
            Key=self._key(key),
            ConsistentRead=True,
            ProjectionExpression="#pk, #count, #ver",
            ExpressionAttributeNames={
                "#pk": model.pk_attr,
                "#count": model.counter_attr,
                "#ver": model.version_attr,
            },
        )
        item = response.get("Item")
        return None if item is None else stored_counter(dict(item), model)

    def count_attendees(self, slug: str) -> int:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": self._model.pk_attr},
            "ExpressionAttributeValues": {":pk": {"S": self._model.attendee_pk(slug)}},
            "Select": "COUNT",
            "ConsistentRead": True,
        }
        total = 0
        while True:
            page = self._read("Query", self._client.query, **kwargs)
            total += int(page.get("Count", 0))
            last = page.get("LastEvaluatedKey")
            if not last:
                return total
            kwargs["ExclusiveStartKey"] = last

    def write_correction(self, correction: Correction) -> None:
        """``SET count = :counted ADD version 1`` on condition that count and version are
        exactly as both looks saw them (or absent, when they were absent). An unreadable
        version is replaced (``SET version = 1``) on condition of its exact raw value."""
        model = self._model
        stored = correction.stored
        names = {"#pk": model.pk_attr, "#count": model.counter_attr, "#ver": model.version_attr}
        values: dict[str, AttributeValue] = {
            ":counted": {"N": str(correction.counted)},
            ":one": {"N": "1"},
        }
        update = "SET #count = :counted ADD #ver :one"
        clauses = ["attribute_exists(#pk)"]
        if stored.version_unreadable:
            if stored.version_raw is None:
                raise ValueError("an unreadable version must carry its raw value")
            clauses.append("#ver = :version")
            values[":version"] = parse_attribute(stored.version_raw)
            values[":one"] = {"N": str(correction.version_after)}
            update = "SET #count = :counted, #ver = :one"
        elif stored.version is None:
            clauses.append("attribute_not_exists(#ver)")
        else:
            clauses.append("#ver = :version")
            values[":version"] = {"N": str(stored.version)}
        if stored.kind is CounterKind.MISSING:
            clauses.append("attribute_not_exists(#count)")
        else:
            if stored.raw is None:
                raise ValueError("a present counter must carry its raw value")
            clauses.append("#count = :stored")
            values[":stored"] = parse_attribute(stored.raw)
        self._calls.call(
            "UpdateItem",
            self._client.update_item,
            write=True,
            TableName=self._table,
            Key=self._key(correction.key),
            UpdateExpression=update,
            ConditionExpression=" AND ".join(clauses),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )
