"""The ledger and the counter in DynamoDB: one read and one transaction per event per batch.

:meth:`DynamoLedgerStore.read` is one strongly consistent ``BatchGetItem`` for the event item's
counter attributes and the entries of the batch's items. :meth:`DynamoLedgerStore.commit` is one
``TransactWriteItems``: each entry ``Put`` conditioned on exactly what was read, and the
counter's update (which always bumps ``counterVersion``, so the reconciler sees every ledger
change). A lost race cancels the whole transaction: nothing is half applied.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from reconciler.handler.ledger import COUNTER_LIMIT, CounterChange, CounterRead, ItemFold
from reconciler.kernel.aws import aws_call
from reconciler.kernel.errors import ThrottledError
from reconciler.kernel.ledger import (
    Entry,
    LedgerModel,
    entry_from_item,
    entry_item,
    entry_key,
    unchanged_since,
)
from reconciler.kernel.model import EventKey, TableModel

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

AttributeValue = dict[str, Any]

MAX_BATCH_GET_ATTEMPTS = 5
"""``BatchGetItem`` may leave keys unprocessed under load; retried this often, then throttled."""


@dataclass(frozen=True, slots=True)
class LedgerRead:
    counter: CounterRead
    entries: Mapping[str, Entry | None]
    """Every requested item; ``None`` where it has no entry."""


class LedgerStore(Protocol):
    def read(self, key: EventKey, slug: str, items: Sequence[str]) -> LedgerRead | None:
        """``None`` when the event item no longer exists."""
        ...

    def commit(
        self,
        key: EventKey,
        slug: str,
        counter: CounterRead,
        change: CounterChange,
        writes: Sequence[ItemFold],
    ) -> None:
        """Raises :class:`ConflictError` when anything read has changed since."""
        ...


def counter_read(item: Mapping[str, Any] | None, model: TableModel) -> CounterRead | None:
    """Interpret the event item's counter attributes; ``None`` when the item is gone."""
    if item is None:
        return None
    raw = item.get(model.counter_attr)
    version = item.get(model.version_attr)
    if version is not None and not _is_integer(version):
        return CounterRead(True, None, "non_numeric_version", raw)
    if raw is None:
        return CounterRead(True, None, None, None)
    text = raw.get("N") if isinstance(raw, dict) else None
    if not isinstance(text, str):
        return CounterRead(True, None, "non_numeric_counter", raw)
    try:
        count = int(text)
    except ValueError:
        return CounterRead(True, None, "fractional_counter", raw)
    if abs(count) >= COUNTER_LIMIT:
        return CounterRead(True, None, "counter_out_of_range", raw)
    return CounterRead(True, count, None, raw)


def _is_integer(raw: object) -> bool:
    text = raw.get("N") if isinstance(raw, dict) else None
    if not isinstance(text, str):
        return False
    try:
        int(text)
    except ValueError:
        return False
    return True


class DynamoLedgerStore:
    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        state_table: str,
        model: TableModel,
        ledger: LedgerModel | None = None,
        *,
        clock: Callable[[], float] = time.time,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self._client = client
        self._table = table_name
        self._state = state_table
        self._model = model
        self._ledger = ledger or LedgerModel()
        self._clock = clock
        self._sleep = sleep

    def _event_key(self, key: EventKey) -> dict[str, AttributeValue]:
        return {
            self._model.pk_attr: {"S": key.partition},
            self._model.sk_attr: {"S": key.sort_key},
        }

    def read(self, key: EventKey, slug: str, items: Sequence[str]) -> LedgerRead | None:
        model, ledger = self._model, self._ledger
        request: dict[str, Any] = {
            self._table: {
                "Keys": [self._event_key(key)],
                "ConsistentRead": True,
                "ProjectionExpression": "#pk, #count, #ver",
                "ExpressionAttributeNames": {
                    "#pk": model.pk_attr,
                    "#count": model.counter_attr,
                    "#ver": model.version_attr,
                },
            }
        }
        if items:
            request[self._state] = {
                "Keys": [entry_key(slug, item, ledger) for item in items],
                "ConsistentRead": True,
            }
        found: dict[str, list[dict[str, Any]]] = {self._table: [], self._state: []}
        for attempt in range(MAX_BATCH_GET_ATTEMPTS):
            with aws_call("BatchGetItem"):
                response = self._client.batch_get_item(RequestItems=request)
            for table, rows in response.get("Responses", {}).items():
                found.setdefault(table, []).extend(rows)
            request = dict(response.get("UnprocessedKeys") or {})
            if not request:
                break
            self._sleep(0.05 * 2**attempt)
        else:
            raise ThrottledError("BatchGetItem left keys unprocessed after retries")
        events = found[self._table]
        counter = counter_read(events[0] if events else None, model)
        if counter is None:
            return None
        entries: dict[str, Entry | None] = dict.fromkeys(items)
        for row in found[self._state]:
            item = row.get(ledger.sk_attr, {}).get("S")
            if isinstance(item, str) and item in entries:
                entries[item] = entry_from_item(row, ledger)
        return LedgerRead(counter, entries)

    def commit(
        self,
        key: EventKey,
        slug: str,
        counter: CounterRead,
        change: CounterChange,
        writes: Sequence[ItemFold],
    ) -> None:
        actions: list[dict[str, Any]] = [self._entry_put(slug, fold) for fold in writes]
        actions.append({"Update": self._counter_update(key, counter, change)})
        with aws_call("TransactWriteItems"):
            self._client.transact_write_items(TransactItems=actions)  # type: ignore[arg-type]

    def _entry_put(self, slug: str, fold: ItemFold) -> dict[str, Any]:
        condition = unchanged_since(fold.before, self._ledger)
        put: dict[str, Any] = {
            "TableName": self._state,
            "Item": entry_item(slug, fold.item, fold.after, self._ledger, now=self._clock()),
            "ConditionExpression": condition.expression,
            "ExpressionAttributeNames": condition.names,
        }
        if condition.values:
            put["ExpressionAttributeValues"] = condition.values
        return {"Put": put}

    def _counter_update(
        self, key: EventKey, counter: CounterRead, change: CounterChange
    ) -> dict[str, Any]:
        model = self._model
        names = {"#pk": model.pk_attr, "#count": model.counter_attr, "#ver": model.version_attr}
        values: dict[str, AttributeValue] = {":one": {"N": "1"}, ":number": {"S": "N"}}
        clauses = [
            "attribute_exists(#pk)",
            "(attribute_not_exists(#ver) OR attribute_type(#ver, :number))",
        ]
        if change.add is not None:
            expression = "ADD #count :delta, #ver :one"
            values[":delta"] = {"N": str(change.add)}
            if change.add < 0:
                clauses.append("attribute_type(#count, :number) AND #count >= :needed")
                values[":needed"] = {"N": str(-change.add)}
            else:
                clauses.append(
                    "(attribute_not_exists(#count) OR (attribute_type(#count, :number)"
                    " AND #count >= :zero))"
                )
                values[":zero"] = {"N": "0"}
        else:
            expression = "SET #count = :value ADD #ver :one"
            values[":value"] = {"N": str(change.set_to or 0)}
            if counter.raw_count is None:
                clauses.append("attribute_not_exists(#count)")
            else:
                clauses.append("#count = :read")
                values[":read"] = dict(counter.raw_count)
        return {
            "TableName": self._table,
            "Key": self._event_key(key),
            "UpdateExpression": expression,
            "ConditionExpression": " AND ".join(clauses),
            "ExpressionAttributeNames": names,
            "ExpressionAttributeValues": values,
        }
