"""Finding the one event item a slug belongs to.

The handler and ``reconciler run --event`` both need it. Zero matches (an orphan) and several
(ambiguous) are reported, never guessed: adding to the wrong event would be worse than not
counting at all, and the reconciler reports both for a human.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from reconciler.kernel.aws import aws_call
from reconciler.kernel.model import EventKey, ItemKind, TableModel, classify, is_valid_slug

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


MAX_SORT_KEY_BYTES = 1024
"""DynamoDB's limit on a sort key value (UTF-8 bytes)."""


class LookupOutcome(enum.Enum):
    FOUND = "found"
    ORPHAN = "orphan"
    AMBIGUOUS = "ambiguous"


@dataclass(frozen=True, slots=True)
class Lookup:
    outcome: LookupOutcome
    key: EventKey | None = None
    candidates: tuple[EventKey, ...] = ()


def resolve(matches: Sequence[EventKey]) -> Lookup:
    """Decide what a set of matching event keys means."""
    if not matches:
        return Lookup(LookupOutcome.ORPHAN)
    if len(matches) > 1:
        return Lookup(LookupOutcome.AMBIGUOUS, candidates=tuple(matches))
    return Lookup(LookupOutcome.FOUND, key=matches[0], candidates=(matches[0],))


class EventLocator(Protocol):
    def find(self, slug: str) -> Lookup: ...


class DynamoEventLocator:
    """Queries every event partition with ``begins_with(sk, "<slug>#")``.

    Stops after two matches in total: a third changes nothing (it is ambiguous either way), and
    the limit keeps a misconfigured slug from reading a whole partition.
    """

    def __init__(self, client: DynamoDBClient, table_name: str, model: TableModel) -> None:
        self._client = client
        self._table = table_name
        self._model = model

    def find_keys(self, slug: str) -> list[EventKey]:
        model = self._model
        if not is_valid_slug(slug, model):
            return []
        if len(model.event_sk_prefix(slug).encode("utf-8")) > MAX_SORT_KEY_BYTES:
            # No sort key can start with it, and DynamoDB refuses such a key condition with a
            # ValidationException: that would fail the batch on every retry, for an orphan.
            return []
        found: list[EventKey] = []
        for partition in model.event_partitions:
            kwargs: dict[str, object] = {
                "TableName": self._table,
                "KeyConditionExpression": "#pk = :pk AND begins_with(#sk, :prefix)",
                "ExpressionAttributeNames": {"#pk": model.pk_attr, "#sk": model.sk_attr},
                "ExpressionAttributeValues": {
                    ":pk": {"S": partition},
                    ":prefix": {"S": model.event_sk_prefix(slug)},
                },
                "ProjectionExpression": "#pk, #sk",
                "ConsistentRead": True,
                "Limit": 2,
            }
            while len(found) < 2:
                with aws_call("Query"):
                    page = self._client.query(**kwargs)  # type: ignore[arg-type]
                for item in page.get("Items", []):
                    sort_key = item[model.sk_attr]["S"]
                    # One definition of an event item everywhere: ``<slug>#`` alone matches the
                    # prefix but is no event (the reconciler's listing skips it too).
                    if classify(partition, sort_key, model).kind is ItemKind.EVENT:
                        found.append(EventKey(partition, sort_key))
                last = page.get("LastEvaluatedKey")
                if not last:
                    break
                kwargs["ExclusiveStartKey"] = last
        return found

    def find(self, slug: str) -> Lookup:
        return resolve(self.find_keys(slug))
