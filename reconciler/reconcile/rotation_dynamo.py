"""The rotating sweep's memory in the state table: the cycle per scope, and one verification
record per event.

Layout (next to the ledger's ``LEDGER#<slug>`` partitions, which it never touches):

- ``pk = ROTATION``, ``sk = <scope>`` (``all``, or ``I/N`` per shard): the cycle (cursor,
  timestamps, events, revision). Saved with ``PutItem`` conditioned on the revision read.
- ``pk = VERIFIED``, ``sk = <slug>#``: the fingerprint of the counter last found in sync. One
  partition, read in key order alongside the event listing; written in batches of 25.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator, Sequence
from typing import TYPE_CHECKING, Any

from reconciler.kernel.errors import AwsError, ReconcilerError, ThrottledError
from reconciler.kernel.ledger import LedgerModel
from reconciler.reconcile.metered import MeteredCalls, sort_key_bounds
from reconciler.reconcile.ratelimit import ReadRateLimiter
from reconciler.reconcile.rotation_core import Cycle
from reconciler.reconcile.summary import IoStats

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

CYCLE_PARTITION = "ROTATION"
RECORD_PARTITION = "VERIFIED"
FINGERPRINT_ATTR = "fp"
BATCH_ATTEMPTS = 8
"""``BatchWriteItem`` hands back what it could not write under throttling: retried with
backoff this many times before the pass fails with :class:`ThrottledError`."""


class StateTableMissingError(ReconcilerError):
    """The rotating sweep keeps its cursor in the state table, and there is none."""


class DynamoRotation:
    """Implements :class:`reconciler.reconcile.ports.RotationStore`. Thread-safe."""

    def __init__(
        self,
        client: DynamoDBClient,
        state_table: str,
        limiter: ReadRateLimiter,
        *,
        ledger: LedgerModel | None = None,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._state = state_table
        self._model = ledger or LedgerModel()
        self._calls = MeteredCalls(limiter)
        self._sleep = sleep

    def stats(self) -> IoStats:
        return self._calls.stats()

    def _key(self, pk: str, sk: str) -> dict[str, Any]:
        return {self._model.pk_attr: {"S": pk}, self._model.sk_attr: {"S": sk}}

    def load_cycle(self, scope: str) -> Cycle:
        try:
            response = self._calls.call(
                "GetItem",
                self._client.get_item,
                TableName=self._state,
                Key=self._key(CYCLE_PARTITION, scope),
                ConsistentRead=True,
            )
        except AwsError as exc:
            if exc.code == "ResourceNotFoundException":
                raise StateTableMissingError(
                    f"state table {self._state!r} does not exist: the rotating sweep "
                    "(--max-read-units, --full-sweep-every) keeps its cursor there; create it "
                    "with `reconciler init` or the StatefulStack"
                ) from exc
            raise
        return _cycle(response.get("Item") or {})

    def save_cycle(self, scope: str, cycle: Cycle) -> None:
        item = self._key(CYCLE_PARTITION, scope) | _cycle_item(cycle)
        self._calls.call(
            "PutItem",
            self._client.put_item,
            write=True,
            TableName=self._state,
            Item=item,
            ConditionExpression="attribute_not_exists(#pk) OR #rev = :before",
            ExpressionAttributeNames={"#pk": self._model.pk_attr, "#rev": "revision"},
            ExpressionAttributeValues={":before": {"N": str(cycle.revision - 1)}},
        )

    def records(self, start: str | None, stop: str | None) -> Iterator[tuple[str, str]]:
        sk = self._model.sk_attr
        values: dict[str, Any] = {":pk": {"S": RECORD_PARTITION}}
        condition = "#pk = :pk" + sort_key_bounds(values, start, stop)
        pages = self._calls.query(
            self._client.query,
            TableName=self._state,
            KeyConditionExpression=condition,
            ExpressionAttributeNames={"#pk": self._model.pk_attr, "#sk": sk, "#fp": "fp"},
            ExpressionAttributeValues=values,
            ProjectionExpression="#sk, #fp",
        )
        for page in pages:
            for item in page.get("Items", []):
                key = item.get(sk, {}).get("S")
                fingerprint = item.get(FINGERPRINT_ATTR, {}).get("S")
                if isinstance(key, str) and isinstance(fingerprint, str):
                    yield key, fingerprint

    def put_records(self, records: Sequence[tuple[str, str]]) -> None:
        self._batch(
            [
                {
                    "PutRequest": {
                        "Item": self._key(RECORD_PARTITION, key)
                        | {FINGERPRINT_ATTR: {"S": fingerprint}}
                    }
                }
                for key, fingerprint in records
            ]
        )

    def delete_records(self, keys: Sequence[str]) -> None:
        self._batch([{"DeleteRequest": {"Key": self._key(RECORD_PARTITION, key)}} for key in keys])

    def _batch(self, requests: list[dict[str, Any]]) -> None:
        pending = requests
        for attempt in range(BATCH_ATTEMPTS):
            if not pending:
                return
            response = self._calls.call(
                "BatchWriteItem",
                self._client.batch_write_item,
                write=True,
                RequestItems={self._state: pending},
            )
            pending = list((response.get("UnprocessedItems") or {}).get(self._state, []))
            if pending:
                self._sleep(min(2.0, 0.05 * 2**attempt))
        if pending:
            raise ThrottledError(
                f"BatchWriteItem: {len(pending)} verification records still unprocessed "
                f"after {BATCH_ATTEMPTS} attempts"
            )


def _number(item: dict[str, Any], name: str) -> float | None:
    raw = item.get(name, {}).get("N")
    try:
        return float(raw) if raw is not None else None
    except ValueError:
        return None


def _cycle(item: dict[str, Any]) -> Cycle:
    """A hand-edited or partial record degrades to "start over", never to an error."""
    cursor = item.get("cursor", {}).get("S")
    events = _number(item, "events")
    return Cycle(
        cursor=cursor if isinstance(cursor, str) and cursor else None,
        started_at=_number(item, "startedAt"),
        previous_started_at=_number(item, "previousStartedAt"),
        last_pass_at=_number(item, "lastPassAt"),
        events=int(events) if events is not None else None,
        done=int(_number(item, "done") or 0),
        revision=int(_number(item, "revision") or 0),
    )


def _cycle_item(cycle: Cycle) -> dict[str, Any]:
    item: dict[str, Any] = {
        "revision": {"N": str(cycle.revision)},
        "done": {"N": str(cycle.done)},
    }
    if cycle.cursor is not None:
        item["cursor"] = {"S": cycle.cursor}
    for name, value in (
        ("startedAt", cycle.started_at),
        ("previousStartedAt", cycle.previous_started_at),
        ("lastPassAt", cycle.last_pass_at),
        ("events", cycle.events),
    ):
        if value is not None:
            item[name] = {"N": repr(float(value)) if isinstance(value, float) else str(value)}
    return item


__all__ = ["DynamoRotation", "StateTableMissingError"]
