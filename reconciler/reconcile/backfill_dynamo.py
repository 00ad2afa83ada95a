"""The DynamoDB side of ``init --backfill``: attendee keys in, conditional ledger entries out.

Attendee keys are e-mail addresses: they are hashed into the ledger's names (``item_hash``) the
moment a page arrives and never leave this module, so nothing downstream can log them.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

from reconciler.kernel.aws import aws_call
from reconciler.kernel.errors import ConflictError
from reconciler.kernel.ledger import LedgerModel, item_hash
from reconciler.kernel.model import TableModel

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class DynamoAttendeeHashes:
    """Implements :class:`reconciler.reconcile.backfill.AttendeeHashes` on the registration
    table."""

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        model: TableModel,
        *,
        page_size: int | None = None,
    ) -> None:
        self._client = client
        self._table = table_name
        self._model = model
        self._page_size = page_size

    def item_hashes(self, slug: str) -> Iterator[str]:
        """Every item of ``<slug>#ATTENDEE``: keys only, strongly consistent, every page."""
        model = self._model
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "KeyConditionExpression": "#pk = :pk",
            "ExpressionAttributeNames": {"#pk": model.pk_attr, "#sk": model.sk_attr},
            "ExpressionAttributeValues": {":pk": {"S": model.attendee_pk(slug)}},
            "ProjectionExpression": "#pk, #sk",
            "ConsistentRead": True,
        }
        if self._page_size:
            kwargs["Limit"] = self._page_size
        while True:
            with aws_call("Query"):
                page = self._client.query(**kwargs)
            for item in page.get("Items", []):
                pk = item.get(model.pk_attr, {}).get("S")
                sk = item.get(model.sk_attr, {}).get("S")
                if isinstance(pk, str) and isinstance(sk, str):
                    yield item_hash(pk, sk)
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last


class DynamoLedgerClaims:
    """Implements :class:`reconciler.reconcile.backfill.LedgerClaims` on the state table.

    Thread-safe (boto3 clients are); the backfill's writer threads share one.
    """

    def __init__(
        self, client: DynamoDBClient, state_table: str, ledger: LedgerModel | None = None
    ) -> None:
        self._client = client
        self._table = state_table
        self._ledger = ledger or LedgerModel()

    def claim(self, slug: str, item_hash: str) -> bool:
        """``PutItem`` of ``present=true`` (no position) on ``attribute_not_exists(pk)``."""
        ledger = self._ledger
        try:
            with aws_call("PutItem"):
                self._client.put_item(
                    TableName=self._table,
                    Item={
                        ledger.pk_attr: {"S": ledger.partition(slug)},
                        ledger.sk_attr: {"S": item_hash},
                        ledger.present_attr: {"BOOL": True},
                    },
                    ConditionExpression="attribute_not_exists(#pk)",
                    ExpressionAttributeNames={"#pk": ledger.pk_attr},
                )
        except ConflictError:
            return False
        return True

    def mark_backfilled(self, slug: str, at: str) -> None:
        """``SET backfilledAt`` on the event's meta item (created if missing, nothing else
        touched)."""
        ledger = self._ledger
        with aws_call("UpdateItem"):
            self._client.update_item(
                TableName=self._table,
                Key={
                    ledger.pk_attr: {"S": ledger.partition(slug)},
                    ledger.sk_attr: {"S": ledger.meta_sort_key},
                },
                UpdateExpression="SET #at = :at",
                ExpressionAttributeNames={"#at": ledger.backfilled_attr},
                ExpressionAttributeValues={":at": {"S": at}},
            )
