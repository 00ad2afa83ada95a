"""A registration table with its state table on moto, and a stand-in for the ledger-keeping
handler: it writes entries and the counter the way the handler's fold does (entry and counter
in one transaction, conditioned on the entry as read; a state already set adds nothing).

The real handler's fold is rewritten elsewhere; these tests only need its effect on the ledger.
"""

from __future__ import annotations

from itertools import count
from typing import Any

from reconciler.kernel.aws import Clients
from reconciler.kernel.ledger import (
    Entry,
    LedgerModel,
    Position,
    default_state_table,
    entry_from_item,
    entry_item,
    entry_key,
    item_hash,
    unchanged_since,
)
from reconciler.kernel.model import EventKey
from reconciler.kernel.settings import TableSettings
from tests.integration.traffic import MODEL, Table

LEDGER = LedgerModel()
EVENT = EventKey("EVENT", "ledger-fest#2024-11-20#conference")
SLUG = EVENT.slug


def email(i: int) -> str:
    return f"guest-{i}@example.com"


class LedgerWorld(Table):
    def __init__(self, clients: Clients, name: str) -> None:
        super().__init__(clients, name)
        # The ``table_name`` fixture creates the state table beside the registration table.
        self.state = default_state_table(name)
        self._sequence = count(1)

    def settings(self) -> TableSettings:
        return TableSettings(self.name, MODEL)

    def backfilled(self, slug: str = SLUG) -> None:
        self.ddb.put_item(
            TableName=self.state,
            Item={
                **entry_key(slug, LEDGER.meta_sort_key, LEDGER),
                LEDGER.backfilled_attr: {"S": "2024-11-01T00:00:00+00:00"},
            },
        )

    def entry(self, slug: str, address: str) -> Entry | None:
        item = self.ddb.get_item(
            TableName=self.state,
            Key=entry_key(slug, item_hash(f"{slug}#ATTENDEE", address), LEDGER),
            ConsistentRead=True,
        ).get("Item")
        return None if item is None else entry_from_item(item, LEDGER)

    def raw_entry(self, slug: str, address: str) -> dict[str, Any]:
        key = entry_key(slug, item_hash(f"{slug}#ATTENDEE", address), LEDGER)
        return dict(self.ddb.get_item(TableName=self.state, Key=key)["Item"])

    def put_entry(self, slug: str, address: str, entry: Entry) -> None:
        item = item_hash(f"{slug}#ATTENDEE", address)
        self.ddb.put_item(TableName=self.state, Item=entry_item(slug, item, entry, LEDGER, now=0))

    def version(self, key: EventKey) -> int:
        return int(self.item(key).get("counterVersion", {"N": "0"})["N"])

    def hand_edit(self, key: EventKey, value: int) -> None:
        """What an operator's console edit does: the count, not the version."""
        self.ddb.update_item(
            TableName=self.name,
            Key={"pk": {"S": key.partition}, "sk": {"S": key.sort_key}},
            UpdateExpression="SET attendeeCount = :v",
            ExpressionAttributeValues={":v": {"N": str(value)}},
        )

    def deliver(self, key: EventKey, address: str, *, present: bool) -> int:
        """The handler applying one record of ``address``: flip the entry (position moves) and
        add the change of ``present`` to the counter, in one transaction; returns the delta."""
        slug = key.slug
        item = item_hash(f"{slug}#ATTENDEE", address)
        position = Position("stream", f"{next(self._sequence):040d}")
        for _ in range(10):
            before = self.entry(slug, address)
            was_present = before.present if before is not None else not present
            delta = int(present) - int(was_present)
            if before is not None and delta == 0:
                return 0  # the state is already set: nothing to write, nothing to add
            guard = unchanged_since(before, LEDGER)
            put: dict[str, Any] = {
                "TableName": self.state,
                "Item": entry_item(slug, item, Entry(present, position), LEDGER, now=0),
                "ConditionExpression": guard.expression,
                "ExpressionAttributeNames": guard.names,
            }
            if guard.values:
                put["ExpressionAttributeValues"] = guard.values
            update = {
                "TableName": self.name,
                "Key": {"pk": {"S": key.partition}, "sk": {"S": key.sort_key}},
                "UpdateExpression": "ADD attendeeCount :d, counterVersion :one",
                "ExpressionAttributeValues": {":d": {"N": str(delta)}, ":one": {"N": "1"}},
            }
            try:
                self.ddb.transact_write_items(TransactItems=[{"Put": put}, {"Update": update}])
            except self.ddb.exceptions.TransactionCanceledException:
                continue
            return delta
        raise AssertionError("the stand-in handler kept losing its transaction")

    def join(self, key: EventKey, address: str) -> None:
        """A registration whose INSERT the handler applies."""
        self.register(key.slug, address)
        self.deliver(key, address, present=True)

    def leave(self, key: EventKey, address: str) -> None:
        self.unregister(key.slug, address)
        self.deliver(key, address, present=False)

    def ledger_event(self, key: EventKey = EVENT, attendees: int = 3) -> EventKey:
        """A backfilled event whose ledger and counter are exact."""
        self.put_event(key, 0)
        for i in range(attendees):
            self.join(key, email(i))
        self.backfilled(key.slug)
        return key
