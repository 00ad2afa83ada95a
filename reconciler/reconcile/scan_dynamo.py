"""The DynamoDB side of the scan sweep: one segment of a parallel ``Scan``, the table's shape.

Every request goes through the registration table adapter's own read path
(:meth:`DynamoReconcileTable.read`): the same read-rate limiter (a 1 MB page costs up to 128
read units, charged after the fact as a ``Query`` is) and the same tally of requests and
``ConsumedCapacity``, so a scan pass reports ``consumed_read_units`` as any pass does.

Scan reads are eventually consistent (half the read units): the scan only filters, every event
it does not find in sync gets the usual strongly consistent looks (see
:mod:`reconciler.reconcile.scan_core`). An attendee item's sort key (its e-mail address) is
projected only because a projection cannot leave a key attribute out; it is dropped here, as
the item is classified, and never leaves this module.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from reconciler.kernel.aws import aws_call
from reconciler.kernel.model import EventKey, ItemKind, TableModel, classify
from reconciler.reconcile.dynamo import AttributeValue, DynamoReconcileTable, stored_counter
from reconciler.reconcile.scan_core import ScannedAttendee, ScannedEventItem, ScannedItem

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoTableScan:
    """Implements :class:`reconciler.reconcile.ports.TableScan`; thread-safe (one worker per
    segment shares it)."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        model: TableModel,
        reads: DynamoReconcileTable,
    ) -> None:
        self._client = client
        self._table = table_name
        self._model = model
        self._reads = reads

    def segment(self, segment: int, total: int) -> Iterator[list[ScannedItem]]:
        model = self._model
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "Segment": segment,
            "TotalSegments": total,
            "ConsistentRead": False,
            "ProjectionExpression": "#pk, #sk, #count, #ver",
            "ExpressionAttributeNames": {
                "#pk": model.pk_attr,
                "#sk": model.sk_attr,
                "#count": model.counter_attr,
                "#ver": model.version_attr,
            },
        }
        while True:
            page = self._reads.read("Scan", self._client.scan, **kwargs)
            items = (self._item(raw) for raw in page.get("Items", []))
            yield [item for item in items if item is not None]
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last

    def _item(self, raw: dict[str, AttributeValue]) -> ScannedItem | None:
        model = self._model
        pk = raw.get(model.pk_attr, {}).get("S")
        sk = raw.get(model.sk_attr, {}).get("S")
        ref = classify(pk, sk, model)
        if ref.kind is ItemKind.ATTENDEE:
            return ScannedAttendee(ref.slug)
        if ref.kind is ItemKind.EVENT and isinstance(pk, str) and isinstance(sk, str):
            return ScannedEventItem(EventKey(pk, sk), stored_counter(raw, model))
        return None  # the lease item, items of other shapes: not ours, as in the query sweep

    def describe(self) -> tuple[int, int]:
        with aws_call("DescribeTable", table=self._table):
            table = self._client.describe_table(TableName=self._table)["Table"]
        self._reads.tally.sent("DescribeTable")
        return int(table.get("ItemCount", 0)), int(table.get("TableSizeBytes", 0))

    def count_events(self, up_to: int) -> int:
        """``Select=COUNT`` per event partition, eventually consistent (an estimate suffices),
        with ``Limit`` so that no more event items are read than the decision needs."""
        total = 0
        for partition in self._model.event_partitions:
            kwargs: dict[str, Any] = {
                "TableName": self._table,
                "KeyConditionExpression": "#pk = :pk",
                "ExpressionAttributeNames": {"#pk": self._model.pk_attr},
                "ExpressionAttributeValues": {":pk": {"S": partition}},
                "Select": "COUNT",
                "ConsistentRead": False,
            }
            while total < up_to:
                kwargs["Limit"] = up_to - total
                page = self._reads.read("Query", self._client.query, **kwargs)
                total += int(page.get("Count", 0))
                last = page.get("LastEvaluatedKey")
                if not last:
                    break
                kwargs["ExclusiveStartKey"] = last
        return min(total, up_to)
