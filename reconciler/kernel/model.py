"""The single-table layout of the registration system, as pure functions.

Everything that knows what a key *means* lives here, so the handler, the reconciler and the
lock all agree on which items are events, which are attendees, and which are neither.
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass

SEQUENCE_WIDTH = 40
"""Stream sequence numbers have up to 40 digits: more than a DynamoDB number keeps exactly,
so we store them as zero-padded strings, which compare in the same order as the numbers."""

_DIGITS = re.compile(r"[0-9]{1,40}")


class ItemKind(enum.Enum):
    EVENT = "event"
    ATTENDEE = "attendee"
    OTHER = "other"


@dataclass(frozen=True, slots=True)
class TableModel:
    """Attribute names and key conventions; defaults follow the deployed system."""

    pk_attr: str = "pk"
    sk_attr: str = "sk"
    event_partitions: tuple[str, ...] = ("FAD", "EVENT")
    attendee_suffix: str = "#ATTENDEE"
    separator: str = "#"
    counter_attr: str = "attendeeCount"
    version_attr: str = "counterVersion"
    sequence_attr: str = "counterSeq"
    lock_partition: str = "_RECONCILER"
    """Partition of the leader-lease item: neither an event partition nor an attendee key."""

    def attendee_pk(self, slug: str) -> str:
        return f"{slug}{self.attendee_suffix}"

    def event_sk_prefix(self, slug: str) -> str:
        """``begins_with`` prefix for a slug's event items; the separator stops ``workshop``
        from matching ``workshop-ai#...``."""
        return f"{slug}{self.separator}"


@dataclass(frozen=True, slots=True)
class ItemRef:
    """What a key is, and the event slug it belongs to (empty for OTHER)."""

    kind: ItemKind
    slug: str = ""


@dataclass(frozen=True, slots=True)
class EventKey:
    """Primary key of one event item."""

    partition: str
    sort_key: str

    @property
    def slug(self) -> str:
        return self.sort_key.split("#", 1)[0]


OTHER = ItemRef(ItemKind.OTHER)


def is_valid_slug(slug: str, model: TableModel) -> bool:
    return bool(slug) and model.separator not in slug and slug.strip() == slug


def classify(pk: object, sk: object, model: TableModel) -> ItemRef:
    """Classify a key; anything that is not a well-formed event or attendee key is OTHER."""
    if not isinstance(pk, str) or not isinstance(sk, str):
        return OTHER
    if pk in model.event_partitions:
        slug, sep, rest = sk.partition(model.separator)
        if sep and rest and is_valid_slug(slug, model):
            return ItemRef(ItemKind.EVENT, slug)
        return OTHER
    if pk.endswith(model.attendee_suffix):
        slug = pk[: -len(model.attendee_suffix)]
        if is_valid_slug(slug, model) and sk:
            return ItemRef(ItemKind.ATTENDEE, slug)
    return OTHER


def integer_attribute(raw: object) -> int | None:
    """The integer in a DynamoDB ``{"N": "..."}`` attribute value, or None for anything else.

    The handler and the reconciler must agree on what a usable counter is: an ``N`` holding
    an integer. ``{"N": "2.5"}``, ``{"S": "10"}`` or garbage are all "not a number".
    """
    text = raw.get("N") if isinstance(raw, dict) else None
    if not isinstance(text, str):
        return None
    try:
        return int(text)
    except ValueError:
        return None


def pad_sequence(sequence_number: str) -> str:
    """Zero-pad a stream sequence number so string order equals numeric order."""
    # fullmatch: ``$`` would also accept a trailing newline, and "123\n" padded sorts wrongly.
    if not _DIGITS.fullmatch(sequence_number):
        raise ValueError("sequence number must be 1 to 40 decimal digits")
    return sequence_number.zfill(SEQUENCE_WIDTH)
