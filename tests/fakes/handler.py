"""Fakes for the stream handler's ports, and a builder of Lambda-shaped stream records.

The fake counter store keeps items as DynamoDB attribute values and evaluates the same
conditions the real ``UpdateItem`` expressions state, so unit tests exercise the handler's
decisions; the integration tests prove the expressions against a moto server.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.handler.counter_store import AddResult, CounterState, state_from_item
from reconciler.kernel.errors import AwsError, ConflictError, ThrottledError
from reconciler.kernel.event_lookup import Lookup, resolve
from reconciler.kernel.model import EventKey, TableModel

Item = dict[str, dict[str, Any]]


@dataclass
class FakeCounterStore:
    model: TableModel = field(default_factory=TableModel)
    items: dict[EventKey, Item] = field(default_factory=dict)
    calls: list[tuple[str, EventKey]] = field(default_factory=list)
    failing: set[EventKey] = field(default_factory=set)
    """Keys whose writes raise ThrottledError, as a throttled table would after retries."""
    before_write: Callable[[EventKey], None] | None = None
    """Runs before each compare-and-set: lets a test play a concurrent reconciler."""

    def put_event(
        self,
        key: EventKey,
        count: object = 0,
        sequence: str | None = None,
        version: int | str = 0,
    ) -> None:
        item: Item = {}
        if isinstance(count, int):
            item[self.model.counter_attr] = {"N": str(count)}
        elif count is not None:
            item[self.model.counter_attr] = {"S": str(count)}
        if sequence is not None:
            item[self.model.sequence_attr] = {"S": sequence}
        if isinstance(version, str):
            item[self.model.version_attr] = {"S": version}
        elif version:
            item[self.model.version_attr] = {"N": str(version)}
        self.items[key] = item

    def count(self, key: EventKey) -> int:
        return int(self.items[key][self.model.counter_attr]["N"])

    def version(self, key: EventKey) -> int:
        return int(self.items[key].get(self.model.version_attr, {"N": "0"})["N"])

    def sequence(self, key: EventKey) -> str | None:
        value = self.items[key].get(self.model.sequence_attr)
        return None if value is None else str(value["S"])

    def writes(self) -> int:
        return sum(1 for name, _ in self.calls if name != "read")

    def add_if_newer(
        self, key: EventKey, delta: int, first_sequence: str, last_sequence: str
    ) -> AddResult:
        self.calls.append(("add_if_newer", key))
        self._maybe_fail(key)
        item = self.items.get(key)
        if item is None:
            return AddResult(False, None)
        state = state_from_item(item, self.model)
        raw_count = item.get(self.model.counter_attr)
        newer = state.raw_sequence is None or str(state.raw_sequence.get("S")) < first_sequence
        numeric = state.count_is_number and state.version_is_number
        enough = (delta >= 0 and raw_count is None) or (
            raw_count is not None and "N" in raw_count and state.count >= max(0, -delta)
        )
        if not (newer and numeric and enough):
            return AddResult(False, state)
        self._set(item, state.count + delta, last_sequence)
        return AddResult(True)

    def read(self, key: EventKey) -> CounterState | None:
        self.calls.append(("read", key))
        item = self.items.get(key)
        return None if item is None else state_from_item(item, self.model)

    def write_if_unchanged(
        self, key: EventKey, seen: CounterState, count: int, sequence: str
    ) -> None:
        self.calls.append(("write_if_unchanged", key))
        if self.before_write is not None:
            self.before_write(key)
        self._maybe_fail(key)
        item = self.items.get(key)
        if item is None or state_from_item(item, self.model) != seen:
            raise ConflictError("UpdateItem: condition failed")
        self._set(item, count, sequence)

    def _set(self, item: Item, count: int, sequence: str) -> None:
        model = self.model
        item[model.counter_attr] = {"N": str(count)}
        item[model.sequence_attr] = {"S": sequence}
        version = int(item.get(model.version_attr, {"N": "0"})["N"])
        item[model.version_attr] = {"N": str(version + 1)}

    def _maybe_fail(self, key: EventKey) -> None:
        if key in self.failing:
            raise ThrottledError("UpdateItem throttled after retries: ThrottlingException")


@dataclass
class FakeEventLocator:
    events: dict[str, list[EventKey]] = field(default_factory=dict)
    failing: set[str] = field(default_factory=set)
    lookups: list[str] = field(default_factory=list)

    def add(self, key: EventKey) -> EventKey:
        self.events.setdefault(key.slug, []).append(key)
        return key

    def find(self, slug: str) -> Lookup:
        self.lookups.append(slug)
        if slug in self.failing:
            raise AwsError("Query", "InternalServerError", "simulated")
        return resolve(self.events.get(slug, []))


@dataclass
class FakeMetrics:
    lines: list[dict[str, int | float]] = field(default_factory=list)

    def write(self, values: Mapping[str, int | float]) -> None:
        self.lines.append(dict(values))

    def total(self, name: str) -> float:
        return sum(line.get(name, 0) for line in self.lines)


# --- Lambda-shaped records ----------------------------------------------------------------


def attendee_image(slug: str, email: str, **extra: str) -> dict[str, Any]:
    image: dict[str, Any] = {
        "pk": {"S": f"{slug}#ATTENDEE"},
        "sk": {"S": email},
        "email": {"S": email},
    }
    image.update({name: {"S": value} for name, value in extra.items()})
    return image


def record(
    event_name: str,
    pk: str,
    sk: str,
    sequence_number: str,
    *,
    new_image: Mapping[str, Any] | None = None,
    old_image: Mapping[str, Any] | None = None,
    view_type: str = "NEW_AND_OLD_IMAGES",
) -> dict[str, Any]:
    """One record as Lambda delivers it; images default to what the view type carries."""
    image = {"pk": {"S": pk}, "sk": {"S": sk}}
    body: dict[str, Any] = {
        "ApproximateCreationDateTime": 1730000000,
        "Keys": {"pk": {"S": pk}, "sk": {"S": sk}},
        "SequenceNumber": sequence_number,
        "SizeBytes": 120,
        "StreamViewType": view_type,
    }
    if view_type in {"NEW_AND_OLD_IMAGES", "NEW_IMAGE"} and event_name in {"INSERT", "MODIFY"}:
        body["NewImage"] = dict(new_image or image)
    if view_type in {"NEW_AND_OLD_IMAGES", "OLD_IMAGE"} and event_name in {"REMOVE", "MODIFY"}:
        body["OldImage"] = dict(old_image or image)
    return {
        "eventID": f"id-{sequence_number}",
        "eventName": event_name,
        "eventVersion": "1.1",
        "eventSource": "aws:dynamodb",
        "awsRegion": "us-east-1",
        "dynamodb": body,
        "eventSourceARN": "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024",
    }


class Sequencer:
    """Hands out increasing sequence numbers shaped like DynamoDB's (21+ digits)."""

    def __init__(self, start: int = 100000000000000000001) -> None:
        self._next = start

    def __call__(self) -> str:
        value = str(self._next)
        self._next += 1
        return value


def insert(slug: str, email: str, seq: str) -> dict[str, Any]:
    return record("INSERT", f"{slug}#ATTENDEE", email, seq)


def remove(slug: str, email: str, seq: str) -> dict[str, Any]:
    return record("REMOVE", f"{slug}#ATTENDEE", email, seq)


def modify(slug: str, email: str, seq: str) -> dict[str, Any]:
    return record("MODIFY", f"{slug}#ATTENDEE", email, seq)


def batch(records: Sequence[object]) -> dict[str, Any]:
    return {"Records": list(records)}
