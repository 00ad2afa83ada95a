"""Fakes for the stream handler's event lookup and metrics, and a builder of Lambda-shaped
stream records (the ledger store's fake is in ``tests.fakes.ledger``)."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.kernel.errors import AwsError
from reconciler.kernel.event_lookup import Lookup, resolve
from reconciler.kernel.model import EventKey

Item = dict[str, dict[str, Any]]


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
