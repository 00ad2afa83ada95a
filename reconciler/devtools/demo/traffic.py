"""What users and operators do to the demo table: events, registration traffic with fake
personal data (so the no-personal-data guarantees have something to protect), a hand edit."""

from __future__ import annotations

import random
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from reconciler.devtools.demo.options import DEMO_EVENTS, ORPHAN_SLUG, DemoOptions
from reconciler.kernel.aws import Clients
from reconciler.kernel.model import EventKey

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_FIRST = ("Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Tim", "Radia", "Ken", "Joan")
_LAST = ("Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Berners-Lee",
         "Perlman", "Thompson", "Clarke")  # fmt: skip
_PROFESSIONS = ("Developer", "Architect", "Data Scientist", "SRE", "Designer", "Manager")


@dataclass(frozen=True, slots=True)
class Attendee:
    slug: str
    email: str
    first_name: str
    last_name: str
    phone: str
    profession: str


@dataclass(slots=True)
class Traffic:
    registrations: int = 0
    removals: int = 0
    profile_updates: int = 0
    orphan_registrations: int = 0
    people: list[Attendee] = field(default_factory=list)
    """Everyone registered (including those removed again); the tests search logs for them."""


def event_item_key(key: EventKey) -> dict[str, dict[str, str]]:
    return {"pk": {"S": key.partition}, "sk": {"S": key.sort_key}}


def seed_events(
    clients: Clients, table_name: str, events: Sequence[EventKey] = DEMO_EVENTS
) -> None:
    dynamodb = clients.dynamodb()
    for key in events:
        dynamodb.put_item(
            TableName=table_name,
            Item={
                **event_item_key(key),
                "attendeeCount": {"N": "0"},
                "title": {"S": key.slug.replace("-", " ").title()},
            },
        )


def fake_attendee(rng: random.Random, slug: str, number: int) -> Attendee:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    local = f"{first}.{last}".lower().replace(" ", "")
    return Attendee(
        slug=slug,
        email=f"{local}{number}@example.com",
        first_name=first,
        last_name=last,
        phone=f"+1-555-01{rng.randrange(100):02d}",
        profession=rng.choice(_PROFESSIONS),
    )


def write_traffic(
    clients: Clients,
    table_name: str,
    options: DemoOptions,
    events: Sequence[EventKey] = DEMO_EVENTS,
) -> Traffic:
    """Registrations, profile updates and removals in a shuffled but reproducible order."""
    dynamodb = clients.dynamodb()
    rng = random.Random(options.seed)
    traffic = Traffic()
    registered: list[Attendee] = []
    for number in range(options.registrations):
        attendee = fake_attendee(rng, rng.choice(events).slug, number)
        put_attendee(dynamodb, table_name, attendee)
        registered.append(attendee)
        traffic.registrations += 1
    for number in range(options.orphan_registrations):
        attendee = fake_attendee(rng, ORPHAN_SLUG, 1000 + number)
        put_attendee(dynamodb, table_name, attendee)
        registered.append(attendee)
        traffic.orphan_registrations += 1
    traffic.people = list(registered)
    for attendee in rng.sample(registered, options.profile_updates):
        dynamodb.update_item(
            TableName=table_name,
            Key=_attendee_key(attendee),
            UpdateExpression="SET profession = :p",
            ExpressionAttributeValues={":p": {"S": rng.choice(_PROFESSIONS)}},
        )
        traffic.profile_updates += 1
    for attendee in rng.sample(registered, options.removals):
        dynamodb.delete_item(TableName=table_name, Key=_attendee_key(attendee))
        traffic.removals += 1
    return traffic


def _attendee_key(attendee: Attendee) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"{attendee.slug}#ATTENDEE"}, "sk": {"S": attendee.email}}


def put_attendee(dynamodb: DynamoDBClient, table_name: str, attendee: Attendee) -> None:
    dynamodb.put_item(
        TableName=table_name,
        Item={
            **_attendee_key(attendee),
            "firstName": {"S": attendee.first_name},
            "lastName": {"S": attendee.last_name},
            "email": {"S": attendee.email},
            "phone": {"S": attendee.phone},
            "profession": {"S": attendee.profession},
            "eventType": {"S": "fad"},
        },
    )


def hand_edit_counter(clients: Clients, table_name: str, key: EventKey, value: int) -> None:
    """What an operator "fixing" a count in the console does: a plain overwrite, which also
    bypasses ``counterVersion`` (the reconciler still only writes after the settle recheck)."""
    clients.dynamodb().update_item(
        TableName=table_name,
        Key=event_item_key(key),
        UpdateExpression="SET attendeeCount = :value",
        ExpressionAttributeValues={":value": {"N": str(value)}},
    )
