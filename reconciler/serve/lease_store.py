"""Where the leader lease lives: one lock item in the table, read and written conditionally.

:class:`LeaseStore` is the port the lease algorithm (:mod:`reconciler.serve.lease`) talks to;
:class:`DynamoLeaseStore` is the adapter. Every write carries a condition on the record's
version, so two replicas racing for the item both see the table's one answer: a lost race is a
:class:`ConflictError`, never an overwrite.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from reconciler.kernel.aws import aws_call
from reconciler.kernel.model import TableModel

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

DEFAULT_LEASE_NAME = "leader-lease"
OWNER_ATTR = "ownerName"
VERSION_ATTR = "recordVersionNumber"
DURATION_ATTR = "leaseDurationMs"
HEARTBEAT_ATTR = "lastHeartbeatAt"
"""Wall-clock time of the last heartbeat: for humans reading the item, never for decisions."""


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    owner: str
    version: str
    duration_seconds: float


class LeaseStore(Protocol):
    def read(self) -> LeaseRecord | None: ...

    def create(self, record: LeaseRecord) -> None:
        """Write the record if no lease item exists; ConflictError otherwise."""
        ...

    def replace(self, record: LeaseRecord, expected_version: str) -> None:
        """Overwrite the record if its version is still ``expected_version``; else ConflictError."""
        ...

    def delete(self, expected_version: str) -> None:
        """Delete the record if its version is still ``expected_version``; else ConflictError."""
        ...


class DynamoLeaseStore:
    """The lock item: pk = ``model.lock_partition``, sk = the lease name.

    The partition is neither an event partition nor an attendee key, so the stream handler
    classifies its stream records as OTHER and ignores them, and no pass ever reads it.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        model: TableModel,
        name: str = DEFAULT_LEASE_NAME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._table = table_name
        self._model = model
        self._clock = clock
        self.key: dict[str, Any] = {
            model.pk_attr: {"S": model.lock_partition},
            model.sk_attr: {"S": name},
        }

    def read(self) -> LeaseRecord | None:
        with aws_call("GetItem"):
            response = self._client.get_item(
                TableName=self._table, Key=self.key, ConsistentRead=True
            )
        item = response.get("Item")
        if not item:
            return None
        return parse_record(item)

    def create(self, record: LeaseRecord) -> None:
        self._put(record, "attribute_not_exists(#pk)", {"#pk": self._model.pk_attr})

    def replace(self, record: LeaseRecord, expected_version: str) -> None:
        if expected_version:
            self._put(
                record,
                "#v = :expected",
                {"#v": VERSION_ATTR},
                {":expected": {"S": expected_version}},
            )
        else:  # a malformed item without a version: only replace it while it still has none
            self._put(
                record,
                "attribute_exists(#pk) AND attribute_not_exists(#v)",
                {"#pk": self._model.pk_attr, "#v": VERSION_ATTR},
            )

    def delete(self, expected_version: str) -> None:
        with aws_call("DeleteItem"):
            self._client.delete_item(
                TableName=self._table,
                Key=self.key,
                ConditionExpression="#v = :expected",
                ExpressionAttributeNames={"#v": VERSION_ATTR},
                ExpressionAttributeValues={":expected": {"S": expected_version}},
            )

    def _put(
        self,
        record: LeaseRecord,
        condition: str,
        names: dict[str, str],
        values: dict[str, Any] | None = None,
    ) -> None:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "Item": self._item(record),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
        }
        if values:
            kwargs["ExpressionAttributeValues"] = values
        with aws_call("PutItem"):
            self._client.put_item(**kwargs)

    def _item(self, record: LeaseRecord) -> dict[str, Any]:
        heartbeat = dt.datetime.fromtimestamp(self._clock(), tz=dt.UTC).isoformat()
        return {
            **self.key,
            OWNER_ATTR: {"S": record.owner},
            VERSION_ATTR: {"S": record.version},
            DURATION_ATTR: {"N": str(round(record.duration_seconds * 1000))},
            HEARTBEAT_ATTR: {"S": heartbeat},
        }


def parse_record(item: dict[str, Any]) -> LeaseRecord:
    """Tolerates a hand-edited item: missing fields read as empty, so it can still go stale."""
    owner = item.get(OWNER_ATTR, {}).get("S", "")
    version = item.get(VERSION_ATTR, {}).get("S", "")
    try:
        duration = float(item.get(DURATION_ATTR, {}).get("N", "0")) / 1000.0
    except ValueError:
        duration = 0.0
    return LeaseRecord(owner=str(owner), version=str(version), duration_seconds=duration)
