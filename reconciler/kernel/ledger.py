"""The counter's ledger: what the handler has counted, one entry per attendee item.

The handler, ``reconciler init --backfill`` and the reconciler's per-key repair must agree on
where an entry lives and what it says, so the layout is defined once, here, as pure values.

Why a ledger: DynamoDB Streams orders records per item only (partition *and* sort key), so the
one comparison that is always sound is between two records of the same item. An entry holds the
item's ``present`` state and the position of the last record applied to it; the counter's delta
is the change in ``present``, so a duplicate, a stale re-delivery or a record that reaches the
handler after a repair adds nothing.

Entries live in the state table (``<table>-state`` by default), not in the registration table:
its writes then never reach the registration table's stream (the handler would be invoked for
its own bookkeeping), TTL can expire tombstones there without touching registration data, and
nothing the registration system runs (a scan, an export) ever sees them.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.kernel.model import SEQUENCE_WIDTH

STATE_TABLE_SUFFIX = "-state"
"""The state table's default name is the registration table's name plus this suffix."""

TOMBSTONE_TTL_SECONDS = 25 * 3600
"""An absent entry is kept a day and an hour: longer than the stream keeps records (24 h), so
no record of the item can arrive after its tombstone expired."""

ITEM_HASH_HEX = 32
"""128 bits of SHA-256: collisions are out of reach for any attendee count."""


@dataclass(frozen=True, slots=True)
class LedgerModel:
    """Key and attribute names of ledger items in the state table."""

    pk_attr: str = "pk"
    sk_attr: str = "sk"
    partition_prefix: str = "LEDGER#"
    meta_sort_key: str = "#meta"
    """The event's own item in its ledger partition; ``#`` sorts before every hex hash."""
    present_attr: str = "present"
    position_attr: str = "pos"
    expires_attr: str = "expiresAt"
    """Epoch seconds, set on absent entries only: the state table's TTL attribute."""
    backfilled_attr: str = "backfilledAt"
    """On the meta item: when ``init --backfill`` finished this event (ISO-8601, UTC)."""

    def partition(self, slug: str) -> str:
        return f"{self.partition_prefix}{slug}"


@dataclass(frozen=True, slots=True, order=True)
class Position:
    """Where a record sits in its item's history: the stream and the record's sequence number.

    Comparable only between records of one item (the order AWS guarantees). A stream created
    later (a stream re-enabled) has a later label, so its records sort after the old stream's.
    """

    label: str
    sequence: str
    """Zero-padded to 40 digits, so string order is numeric order."""

    def render(self) -> str:
        return f"{self.label}/{self.sequence}"

    @classmethod
    def parse(cls, text: object) -> Position | None:
        """The stored form back; ``None`` for anything that is not one (a hand edit)."""
        if not isinstance(text, str):
            return None
        label, sep, sequence = text.rpartition("/")
        if not sep or len(sequence) != SEQUENCE_WIDTH or not sequence.isdigit():
            return None
        return cls(label, sequence)


@dataclass(frozen=True, slots=True)
class Entry:
    """What the ledger says of one attendee item."""

    present: bool
    position: Position | None = None
    """``None`` when no record set it: a backfilled or repaired entry."""


AttributeMap = dict[str, dict[str, Any]]


def entry_key(slug: str, item: str, ledger: LedgerModel) -> AttributeMap:
    return {ledger.pk_attr: {"S": ledger.partition(slug)}, ledger.sk_attr: {"S": item}}


def entry_from_item(item: Mapping[str, Any], ledger: LedgerModel) -> Entry:
    """An entry as stored. A hand-edited entry without a usable ``present`` reads as present:
    the conservative choice, since a removal of it then still counts down."""
    present = item.get(ledger.present_attr, {}).get("BOOL")
    return Entry(present is not False, Position.parse(item.get(ledger.position_attr, {}).get("S")))


def entry_item(
    slug: str, item: str, entry: Entry, ledger: LedgerModel, *, now: float
) -> AttributeMap:
    """The stored form of ``entry``; an absent one expires with the state table's TTL."""
    stored: AttributeMap = {
        **entry_key(slug, item, ledger),
        ledger.present_attr: {"BOOL": entry.present},
    }
    if entry.position is not None:
        stored[ledger.position_attr] = {"S": entry.position.render()}
    if not entry.present:
        stored[ledger.expires_attr] = {"N": str(int(now) + TOMBSTONE_TTL_SECONDS)}
    return stored


@dataclass(frozen=True, slots=True)
class Condition:
    expression: str
    names: dict[str, str]
    values: AttributeMap


def unchanged_since(before: Entry | None, ledger: LedgerModel) -> Condition:
    """The condition that an entry is exactly as it was read (or still absent): every write of
    an entry, by the handler or a repair, is conditioned on it."""
    if before is None:
        return Condition("attribute_not_exists(#pk)", {"#pk": ledger.pk_attr}, {})
    names = {"#present": ledger.present_attr, "#pos": ledger.position_attr}
    values: AttributeMap = {":present": {"BOOL": before.present}}
    if before.position is None:
        return Condition("#present = :present AND attribute_not_exists(#pos)", names, values)
    values[":pos"] = {"S": before.position.render()}
    return Condition("#present = :present AND #pos = :pos", names, values)


def item_hash(pk: str, sk: str) -> str:
    """The ledger's name for an attendee item: its key, hashed.

    The key is the attendee's e-mail address; the ledger must not hold it. A hash of an e-mail
    address is still pseudonymous data (a dictionary of addresses can be hashed and compared),
    so the state table is protected like the registration table.
    """
    digest = hashlib.sha256(f"{pk}\x1f{sk}".encode()).hexdigest()
    return digest[:ITEM_HASH_HEX]


def stream_label(stream_arn: object) -> str:
    """The label of a stream from its ARN (``.../stream/<label>``); empty when there is none."""
    if not isinstance(stream_arn, str):
        return ""
    _, sep, label = stream_arn.rpartition("/stream/")
    return label if sep and "/" not in label else ""


def default_state_table(table_name: str) -> str:
    return f"{table_name}{STATE_TABLE_SUFFIX}" if table_name else ""
