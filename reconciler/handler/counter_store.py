"""The event item's counter in DynamoDB: the handler's only writes.

Two writes, both conditional:

* :meth:`DynamoCounterStore.add_if_newer` is the fast path: one ``UpdateItem`` that adds a
  batch's delta only if none of the batch's records was applied before (``counterSeq`` below
  the batch's first sequence number), the count stays at or above zero, and the count is a
  number. It bumps ``counterVersion`` so the reconciler sees every change.
* :meth:`DynamoCounterStore.write_if_unchanged` is the slow path after the fast one was
  refused: an exact compare-and-set of count, sequence and version against what was read.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from reconciler.kernel.aws import aws_call
from reconciler.kernel.errors import ConflictError
from reconciler.kernel.model import SEQUENCE_WIDTH, EventKey, TableModel, integer_attribute

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

AttributeValue = dict[str, Any]


@dataclass(frozen=True, slots=True)
class CounterState:
    """The counter attributes of an event item as read, raw values kept for exact conditions."""

    raw_count: AttributeValue | None
    raw_sequence: AttributeValue | None
    raw_version: AttributeValue | None

    @property
    def count_is_number(self) -> bool:
        """Absent counts as a number (zero); anything but an integer ``N`` does not."""
        return self.raw_count is None or integer_attribute(self.raw_count) is not None

    @property
    def version_is_number(self) -> bool:
        """The version must stay an integer for ``ADD`` and the reconciler's exact checks."""
        return self.raw_version is None or integer_attribute(self.raw_version) is not None

    @property
    def count(self) -> int:
        """The count, zero when absent; only meaningful when :attr:`count_is_number`."""
        return 0 if self.raw_count is None else (integer_attribute(self.raw_count) or 0)

    @property
    def sequence(self) -> str | None:
        """Highest applied padded sequence number; a malformed one is treated as none."""
        value = self.raw_sequence
        if value is None or not isinstance(value.get("S"), str):
            return None
        text: str = value["S"]
        if len(text) != SEQUENCE_WIDTH or not text.isdigit():
            return None
        return text


def state_from_item(item: dict[str, Any], model: TableModel) -> CounterState:
    return CounterState(
        raw_count=item.get(model.counter_attr),
        raw_sequence=item.get(model.sequence_attr),
        raw_version=item.get(model.version_attr),
    )


@dataclass(frozen=True, slots=True)
class AddResult:
    applied: bool
    current: CounterState | None = None
    """When refused: the item's counter state at that moment; None if the item is gone."""


class CounterStore(Protocol):
    def add_if_newer(
        self, key: EventKey, delta: int, first_sequence: str, last_sequence: str
    ) -> AddResult: ...

    def read(self, key: EventKey) -> CounterState | None: ...

    def write_if_unchanged(
        self, key: EventKey, seen: CounterState, count: int, sequence: str
    ) -> None:
        """Raises :class:`ConflictError` when anything changed since ``seen`` was read."""
        ...


class DynamoCounterStore:
    def __init__(self, client: DynamoDBClient, table_name: str, model: TableModel) -> None:
        self._client = client
        self._table = table_name
        self._model = model

    def _key(self, key: EventKey) -> dict[str, Any]:
        return {
            self._model.pk_attr: {"S": key.partition},
            self._model.sk_attr: {"S": key.sort_key},
        }

    def _names(self) -> dict[str, str]:
        model = self._model
        return {
            "#pk": model.pk_attr,
            "#count": model.counter_attr,
            "#seq": model.sequence_attr,
            "#ver": model.version_attr,
        }

    def add_if_newer(
        self, key: EventKey, delta: int, first_sequence: str, last_sequence: str
    ) -> AddResult:
        condition = (
            "attribute_exists(#pk)"
            # A counterSeq that is not a string (hand-edited, a bug elsewhere) must send us to
            # the slow path, not compare across types: moto fails the request on that.
            " AND (attribute_not_exists(#seq) OR (attribute_type(#seq, :string) AND #seq < :first))"
            " AND (attribute_not_exists(#count) OR attribute_type(#count, :number))"
            " AND (attribute_not_exists(#ver) OR attribute_type(#ver, :number))"
        )
        values: dict[str, Any] = {
            ":delta": {"N": str(delta)},
            ":one": {"N": "1"},
            ":first": {"S": first_sequence},
            ":last": {"S": last_sequence},
            ":number": {"S": "N"},
            ":string": {"S": "S"},
        }
        # Never below zero, and never ADD onto a negative count: the slow path clamps both.
        # An absent count compares false, so a decrement of a missing count goes slow too.
        values[":needed"] = {"N": str(max(0, -delta))}
        if delta < 0:
            condition += " AND #count >= :needed"
        else:
            condition += " AND (attribute_not_exists(#count) OR #count >= :needed)"
        try:
            with aws_call("UpdateItem"):
                self._client.update_item(
                    TableName=self._table,
                    Key=self._key(key),
                    UpdateExpression="ADD #count :delta, #ver :one SET #seq = :last",
                    ConditionExpression=condition,
                    ExpressionAttributeNames=self._names(),
                    ExpressionAttributeValues=values,
                    ReturnValuesOnConditionCheckFailure="ALL_OLD",
                )
        except ConflictError as error:
            if error.current is not None:
                return AddResult(False, state_from_item(error.current, self._model))
            # Some DynamoDB implementations return no item; a consistent read tells the same.
            return AddResult(False, self.read(key))
        return AddResult(True)

    def read(self, key: EventKey) -> CounterState | None:
        with aws_call("GetItem"):
            response = self._client.get_item(
                TableName=self._table,
                Key=self._key(key),
                ConsistentRead=True,
                ProjectionExpression="#pk, #count, #seq, #ver",
                ExpressionAttributeNames=self._names(),
            )
        item = response.get("Item")
        return None if item is None else state_from_item(dict(item), self._model)

    def write_if_unchanged(
        self, key: EventKey, seen: CounterState, count: int, sequence: str
    ) -> None:
        clauses = ["attribute_exists(#pk)"]
        values: dict[str, Any] = {
            ":count": {"N": str(count)},
            ":seq": {"S": sequence},
            ":one": {"N": "1"},
        }
        for placeholder, raw in (
            ("count", seen.raw_count),
            ("seq", seen.raw_sequence),
            ("ver", seen.raw_version),
        ):
            if raw is None:
                clauses.append(f"attribute_not_exists(#{placeholder})")
            else:
                clauses.append(f"#{placeholder} = :old_{placeholder}")
                values[f":old_{placeholder}"] = raw
        with aws_call("UpdateItem"):
            self._client.update_item(
                TableName=self._table,
                Key=self._key(key),
                UpdateExpression="SET #count = :count, #seq = :seq ADD #ver :one",
                ConditionExpression=" AND ".join(clauses),
                ExpressionAttributeNames=self._names(),
                ExpressionAttributeValues=values,
            )
