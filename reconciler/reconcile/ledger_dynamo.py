"""The DynamoDB side of the ledger path: the state table's entries and the attendee items.

Reads are strongly consistent, paginated and go through the pass's read-rate limiter. A state
table that does not exist means no event is in ledger mode (a seed handler keeps no ledger);
that is learnt from the first read of a pass and not asked again until the next one. Attendee
keys are e-mail addresses: they leave this module only inside :class:`AttendeeRef`.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from reconciler.kernel.errors import AwsError, ConflictError
from reconciler.kernel.ledger import (
    Entry,
    LedgerModel,
    entry_from_item,
    entry_item,
    entry_key,
    unchanged_since,
)
from reconciler.kernel.model import EventKey, TableModel
from reconciler.reconcile.core import Correction, CounterKind
from reconciler.reconcile.dynamo import parse_attribute
from reconciler.reconcile.ledger_core import AttendeeRef, KeyRepair
from reconciler.reconcile.metered import MeteredCalls
from reconciler.reconcile.ratelimit import ReadRateLimiter
from reconciler.reconcile.summary import IoStats

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_MISSING_TABLE = "ResourceNotFoundException"
_CANCELLED = frozenset({"TransactionCanceledException", "TransactionConflictException"})
"""A cancelled repair: some condition failed or another transaction held an item."""


class DynamoLedger:
    """Implements :class:`reconciler.reconcile.ports.LedgerStore`. Thread-safe."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        model: TableModel,
        state_table: str,
        limiter: ReadRateLimiter,
        *,
        ledger: LedgerModel | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._table = table_name
        self._model = model
        self._state = state_table
        self._ledger = ledger or LedgerModel()
        self._now = clock
        self._calls = MeteredCalls(limiter)
        self._io = self._calls.tally
        self._state_missing = False

    # -- bookkeeping -------------------------------------------------------------------------

    def stats(self) -> IoStats:
        return self._io.stats()

    def _call(self, operation: str, call: Any, *, write: bool = False, **kwargs: Any) -> Any:
        return self._calls.call(operation, call, write=write, **kwargs)

    def _query(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        return self._calls.query(self._client.query, ConsistentRead=True, **kwargs)

    # -- reads -------------------------------------------------------------------------------

    def start_pass(self) -> None:
        self._state_missing = False

    def backfilled(self, slug: str) -> bool:
        if self._state_missing:
            return False
        ledger = self._ledger
        try:
            response = self._call(
                "GetItem",
                self._client.get_item,
                TableName=self._state,
                Key=entry_key(slug, ledger.meta_sort_key, ledger),
                ConsistentRead=True,
            )
        except AwsError as exc:
            if exc.code != _MISSING_TABLE:
                raise
            self._state_missing = True
            return False
        item = response.get("Item") or {}
        return ledger.backfilled_attr in item

    def _partition(self, slug: str) -> dict[str, Any]:
        ledger = self._ledger
        return {
            "TableName": self._state,
            "KeyConditionExpression": "#pk = :pk AND #sk > :meta",
            "ExpressionAttributeNames": {"#pk": ledger.pk_attr, "#sk": ledger.sk_attr},
            "ExpressionAttributeValues": {
                ":pk": {"S": ledger.partition(slug)},
                ":meta": {"S": ledger.meta_sort_key},
            },
        }

    def count_present(self, slug: str) -> int:
        kwargs = self._partition(slug)
        kwargs["FilterExpression"] = "#present = :true"
        kwargs["ExpressionAttributeNames"]["#present"] = self._ledger.present_attr
        kwargs["ExpressionAttributeValues"][":true"] = {"BOOL": True}
        return sum(int(page.get("Count", 0)) for page in self._query(Select="COUNT", **kwargs))

    def entries(self, slug: str) -> Iterator[tuple[str, Entry]]:
        ledger = self._ledger
        for page in self._query(**self._partition(slug)):
            for item in page.get("Items", []):
                sort_key = item.get(ledger.sk_attr, {}).get("S")
                if isinstance(sort_key, str):
                    yield sort_key, entry_from_item(item, ledger)

    def attendees(self, slug: str) -> Iterator[AttendeeRef]:
        model = self._model
        pages = self._query(
            TableName=self._table,
            KeyConditionExpression="#pk = :pk",
            ExpressionAttributeNames={"#pk": model.pk_attr, "#sk": model.sk_attr},
            ExpressionAttributeValues={":pk": {"S": model.attendee_pk(slug)}},
            ProjectionExpression="#pk, #sk",
        )
        for page in pages:
            for item in page.get("Items", []):
                pk = item.get(model.pk_attr, {}).get("S")
                sk = item.get(model.sk_attr, {}).get("S")
                if isinstance(pk, str) and isinstance(sk, str):
                    yield AttendeeRef(pk, sk)

    def read_entry(self, slug: str, item: str) -> Entry | None:
        response = self._call(
            "GetItem",
            self._client.get_item,
            TableName=self._state,
            Key=entry_key(slug, item, self._ledger),
            ConsistentRead=True,
        )
        stored = response.get("Item")
        return None if stored is None else entry_from_item(stored, self._ledger)

    def attendee_exists(self, attendee: AttendeeRef) -> bool:
        model = self._model
        response = self._call(
            "GetItem",
            self._client.get_item,
            TableName=self._table,
            Key={model.pk_attr: {"S": attendee.pk}, model.sk_attr: {"S": attendee.sk}},
            ConsistentRead=True,
            ProjectionExpression="#pk",
            ExpressionAttributeNames={"#pk": model.pk_attr},
        )
        return response.get("Item") is not None

    # -- writes ------------------------------------------------------------------------------

    def _event_key(self, key: EventKey) -> dict[str, Any]:
        return {
            self._model.pk_attr: {"S": key.partition},
            self._model.sk_attr: {"S": key.sort_key},
        }

    def add_to_counter(self, correction: Correction) -> None:
        """``ADD count :gap, version 1`` on condition that count and version are as read."""
        model, stored = self._model, correction.stored
        gap = correction.delta
        if gap is None:
            raise ValueError("an invalid counter has no number to add to")
        names = {"#pk": model.pk_attr, "#count": model.counter_attr, "#ver": model.version_attr}
        values: dict[str, Any] = {":gap": {"N": str(gap)}, ":one": {"N": "1"}}
        clauses = ["attribute_exists(#pk)"]
        if stored.version is None:
            clauses.append("attribute_not_exists(#ver)")
        else:
            clauses.append("#ver = :version")
            values[":version"] = {"N": str(stored.version)}
        if stored.kind is CounterKind.MISSING or stored.raw is None:
            clauses.append("attribute_not_exists(#count)")
        else:
            clauses.append("#count = :stored")
            values[":stored"] = parse_attribute(stored.raw)
        self._call(
            "UpdateItem",
            self._client.update_item,
            write=True,
            TableName=self._table,
            Key=self._event_key(correction.key),
            UpdateExpression="ADD #count :gap, #ver :one",
            ConditionExpression=" AND ".join(clauses),
            ExpressionAttributeNames=names,
            ExpressionAttributeValues=values,
        )

    def repair_key(self, repair: KeyRepair) -> None:
        model, ledger = self._model, self._ledger
        slug = repair.event.slug
        guard = unchanged_since(repair.before, ledger)
        counter_names = {"#pk": model.pk_attr, "#count": model.counter_attr}
        counter_names["#ver"] = model.version_attr
        counter_values: dict[str, Any] = {
            ":delta": {"N": str(repair.delta)},
            ":one": {"N": "1"},
            ":number": {"S": "N"},
        }
        condition = "attribute_exists(#pk) AND attribute_type(#count, :number)"
        if repair.delta < 0:
            condition += " AND #count >= :one"
        put: dict[str, Any] = {
            "TableName": self._state,
            "Item": entry_item(slug, repair.item, repair.entry, ledger, now=self._now()),
            "ConditionExpression": guard.expression,
            "ExpressionAttributeNames": guard.names,
        }
        if guard.values:
            put["ExpressionAttributeValues"] = guard.values
        update = {
            "TableName": self._table,
            "Key": self._event_key(repair.event),
            "UpdateExpression": "ADD #count :delta, #ver :one",
            "ConditionExpression": condition,
            "ExpressionAttributeNames": counter_names,
            "ExpressionAttributeValues": counter_values,
        }
        try:
            self._call(
                "TransactWriteItems",
                self._client.transact_write_items,
                write=True,
                TransactItems=[{"Put": put}, {"Update": update}],
            )
        except AwsError as exc:
            if exc.code in _CANCELLED:
                raise ConflictError("TransactWriteItems: cancelled") from exc
            raise
