"""Lambda's DynamoDB stream records, parsed into what the counter needs, and nothing more.

Pure: no I/O, no logging. Every record becomes exactly one of :class:`AttendeeChange`,
:class:`Ignored` or :class:`Malformed`, so the handler can count each outcome and never has to
guess. Attendee images hold personal data; we only ever look at the key attributes, and the
reason codes of :class:`Malformed` are fixed strings, safe to log.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from reconciler.kernel.ledger import Position, item_hash, stream_label
from reconciler.kernel.model import ItemKind, TableModel, classify, pad_sequence


class ChangeKind(enum.Enum):
    INSERT = "INSERT"
    REMOVE = "REMOVE"
    MODIFY = "MODIFY"


DELTAS: Mapping[ChangeKind, int] = {
    ChangeKind.INSERT: 1,
    ChangeKind.REMOVE: -1,
    ChangeKind.MODIFY: 0,
}

# The image(s) a NEW_AND_OLD_IMAGES stream carries for each event name. A record without them
# means the stream's view type changed under us: loud (counted as malformed) beats silent.
_REQUIRED_IMAGES: Mapping[ChangeKind, tuple[str, ...]] = {
    ChangeKind.INSERT: ("NewImage",),
    ChangeKind.REMOVE: ("OldImage",),
    ChangeKind.MODIFY: ("NewImage", "OldImage"),
}


class MalformedReason(enum.Enum):
    """Fixed reason codes: the only thing logged about a bad record besides its position."""

    INVALID_EVENT = "invalid_event"
    NOT_A_MAPPING = "not_a_mapping"
    MISSING_DYNAMODB = "missing_dynamodb"
    MISSING_SEQUENCE_NUMBER = "missing_sequence_number"
    INVALID_SEQUENCE_NUMBER = "invalid_sequence_number"
    UNKNOWN_EVENT_NAME = "unknown_event_name"
    MISSING_KEYS = "missing_keys"
    INVALID_KEYS = "invalid_keys"
    MISSING_NEW_IMAGE = "missing_new_image"
    MISSING_OLD_IMAGE = "missing_old_image"
    INVALID_IMAGE = "invalid_image"
    NON_NUMERIC_COUNTER = "non_numeric_counter"


@dataclass(frozen=True, slots=True)
class AttendeeChange:
    """One attendee record: which event it counts for, by how much, and where it sits."""

    slug: str
    kind: ChangeKind
    sequence: str
    """Zero-padded to 40 digits, so string order is stream order."""
    sequence_number: str
    """As the stream sent it: the ``itemIdentifier`` Lambda expects back on a failure."""
    item: str = ""
    """The attendee item's ledger name (a hash of its key, never the key: it is an e-mail)."""
    label: str = ""
    """The label of the stream the record came from (empty when Lambda did not say)."""

    @property
    def delta(self) -> int:
        return DELTAS[self.kind]

    @property
    def position(self) -> Position:
        """Comparable with another record's position only for the same item."""
        return Position(self.label, self.sequence)


@dataclass(frozen=True, slots=True)
class Ignored:
    """A well-formed record of an item that is not an attendee (events, the lock item...)."""

    kind: ChangeKind


@dataclass(frozen=True, slots=True)
class Malformed:
    reason: MalformedReason
    sequence_number: str | None = None


ParsedRecord = AttendeeChange | Ignored | Malformed


def parse_event(event: object) -> list[object] | Malformed:
    """The ``Records`` list of a Lambda event, or why there is none."""
    if not isinstance(event, Mapping):
        return Malformed(MalformedReason.INVALID_EVENT)
    records = event.get("Records")
    if not isinstance(records, list):
        return Malformed(MalformedReason.INVALID_EVENT)
    return records


def parse_record(record: object, model: TableModel) -> ParsedRecord:
    """Classify one Lambda DynamoDB stream record."""
    if not isinstance(record, Mapping):
        return Malformed(MalformedReason.NOT_A_MAPPING)
    body = record.get("dynamodb")
    if not isinstance(body, Mapping):
        return Malformed(MalformedReason.MISSING_DYNAMODB)
    raw_sequence = body.get("SequenceNumber")
    if raw_sequence is None:
        return Malformed(MalformedReason.MISSING_SEQUENCE_NUMBER)
    if not isinstance(raw_sequence, str):
        return Malformed(MalformedReason.INVALID_SEQUENCE_NUMBER)
    try:
        sequence = pad_sequence(raw_sequence)
    except ValueError:
        return Malformed(MalformedReason.INVALID_SEQUENCE_NUMBER)
    try:
        kind = ChangeKind(record.get("eventName"))
    except ValueError:
        return Malformed(MalformedReason.UNKNOWN_EVENT_NAME, raw_sequence)
    keys = body.get("Keys")
    if not isinstance(keys, Mapping) or model.pk_attr not in keys or model.sk_attr not in keys:
        return Malformed(MalformedReason.MISSING_KEYS, raw_sequence)
    pk = _string_attribute(keys[model.pk_attr])
    sk = _string_attribute(keys[model.sk_attr])
    if pk is None or sk is None:
        return Malformed(MalformedReason.INVALID_KEYS, raw_sequence)
    ref = classify(pk, sk, model)
    if ref.kind is not ItemKind.ATTENDEE:
        return Ignored(kind)
    for image in _REQUIRED_IMAGES[kind]:
        if image not in body:
            reason = (
                MalformedReason.MISSING_NEW_IMAGE
                if image == "NewImage"
                else MalformedReason.MISSING_OLD_IMAGE
            )
            return Malformed(reason, raw_sequence)
        if not isinstance(body[image], Mapping):
            return Malformed(MalformedReason.INVALID_IMAGE, raw_sequence)
    return AttendeeChange(
        ref.slug,
        kind,
        sequence,
        raw_sequence,
        item=item_hash(pk, sk),
        label=stream_label(record.get("eventSourceARN")),
    )


def _string_attribute(value: object) -> str | None:
    """A key attribute in DynamoDB JSON, if it is a well-formed string (``{"S": ...}``).

    Keys are declared ``S`` in the table; anything else (a number, a bare string, a broken
    wire value) cannot come from the deployed table and is reported, not interpreted.
    """
    if not isinstance(value, Mapping) or len(value) != 1:
        return None
    text = value.get("S")
    return text if isinstance(text, str) else None


@dataclass(frozen=True, slots=True)
class SlugBatch:
    """The attendee changes of one event within one batch, in stream order."""

    slug: str
    changes: tuple[AttendeeChange, ...]

    @property
    def first_sequence(self) -> str:
        return self.changes[0].sequence

    @property
    def first_sequence_number(self) -> str:
        """What to report in ``batchItemFailures`` if this event's update fails."""
        return self.changes[0].sequence_number

    @property
    def needs_write(self) -> bool:
        """MODIFY-only groups change no item's state: they need neither a lookup nor a write.

        An INSERT and a REMOVE of one item that cancel out still need it: the item's entry must
        move past them, or a retry from the REMOVE onward would count the REMOVE again.
        """
        return any(change.kind is not ChangeKind.MODIFY for change in self.changes)


@dataclass(frozen=True, slots=True)
class Grouped:
    batches: tuple[SlugBatch, ...]
    """In order of each event's first record in the batch."""
    repeated: int
    """Records whose sequence number already occurred in this batch (counted as duplicates)."""


def group_by_slug(changes: Iterable[AttendeeChange]) -> Grouped:
    """Group changes per event, sorted by sequence number, dropping in-batch repeats.

    Lambda delivers one shard's records in order and never repeats one within a batch; sorting
    and de-duplicating anyway costs nothing and keeps the sequence comparison sound.
    """
    by_slug: dict[str, dict[Position, AttendeeChange]] = {}
    repeated = 0
    for change in changes:
        seen = by_slug.setdefault(change.slug, {})
        if change.position in seen:
            repeated += 1
            continue
        seen[change.position] = change
    batches = [
        SlugBatch(slug, tuple(sorted(records.values(), key=lambda c: c.position)))
        for slug, records in by_slug.items()
    ]
    batches.sort(key=lambda batch: batch.first_sequence)
    return Grouped(tuple(batches), repeated)


def earliest(sequence_numbers: Sequence[str]) -> str:
    """The stream-order first of some raw sequence numbers (they differ in length)."""
    return min(sequence_numbers, key=pad_sequence)
