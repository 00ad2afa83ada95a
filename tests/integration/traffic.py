"""Registration traffic against a real (moto) table, shared by the handler and pump tests."""

from __future__ import annotations

import io
from typing import Any

from reconciler.devtools.pump import PumpConfig, StreamPump, stream_arn_for
from reconciler.handler.batch import StreamHandler
from reconciler.handler.entry import HandlerSettings, build_handler, emf_sink
from reconciler.kernel.aws import Clients
from reconciler.kernel.ledger import Entry, LedgerModel, default_state_table, entry_from_item
from reconciler.kernel.model import EventKey, TableModel, pad_sequence
from reconciler.kernel.settings import TableSettings

MODEL = TableModel()


def collect_records(clients: Clients, stream_arn: str) -> list[dict[str, Any]]:
    """Everything the stream holds now, Lambda-shaped and in order: the pump with one
    unbounded batch and no retries, delivering into a list."""
    collected: list[dict[str, Any]] = []

    def keep(event: dict[str, Any], _context: object) -> None:
        collected.extend(event["Records"])

    config = PumpConfig(batch_size=10000, batching_window=0.0, max_retries=0)
    StreamPump(clients.streams(), stream_arn, keep, region=clients.region, config=config).drain()
    return sorted(collected, key=lambda record: pad_sequence(record["dynamodb"]["SequenceNumber"]))


class Table:
    def __init__(self, clients: Clients, name: str) -> None:
        self.clients = clients
        self.name = name
        self.ddb = clients.dynamodb()
        self.emf = io.StringIO()

    def put_event(self, key: EventKey, count: object = 0) -> EventKey:
        item: dict[str, Any] = {"pk": {"S": key.partition}, "sk": {"S": key.sort_key}}
        if isinstance(count, int):
            item["attendeeCount"] = {"N": str(count)}
        elif count is not None:
            item["attendeeCount"] = {"S": str(count)}
        self.ddb.put_item(TableName=self.name, Item=item)
        return key

    def register(self, slug: str, email: str, **details: str) -> None:
        item = {
            "pk": {"S": f"{slug}#ATTENDEE"},
            "sk": {"S": email},
            "email": {"S": email},
            "firstName": {"S": details.get("first", "Ada")},
            "lastName": {"S": details.get("last", "Lovelace")},
            "phone": {"S": details.get("phone", "+44 20 7946 0000")},
            "profession": {"S": details.get("profession", "Engineer")},
            "eventType": {"S": "conference"},
        }
        self.ddb.put_item(TableName=self.name, Item=item)

    def unregister(self, slug: str, email: str) -> None:
        self.ddb.delete_item(
            TableName=self.name, Key={"pk": {"S": f"{slug}#ATTENDEE"}, "sk": {"S": email}}
        )

    def change_profession(self, slug: str, email: str, profession: str) -> None:
        self.ddb.update_item(
            TableName=self.name,
            Key={"pk": {"S": f"{slug}#ATTENDEE"}, "sk": {"S": email}},
            UpdateExpression="SET profession = :p",
            ExpressionAttributeValues={":p": {"S": profession}},
        )

    def ledger_items(self, slug: str) -> list[dict[str, Any]]:
        """The raw ledger items of an event, from the state table."""
        response = self.ddb.query(
            TableName=default_state_table(self.name),
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": LedgerModel().partition(slug)}},
            ConsistentRead=True,
        )
        return list(response["Items"])

    def ledger(self, slug: str) -> dict[str, Entry]:
        """The event's ledger entries by item hash (the meta item aside)."""
        ledger = LedgerModel()
        return {
            row["sk"]["S"]: entry_from_item(row, ledger)
            for row in self.ledger_items(slug)
            if row["sk"]["S"] != ledger.meta_sort_key
        }

    def item(self, key: EventKey) -> dict[str, Any]:
        response = self.ddb.get_item(
            TableName=self.name,
            Key={"pk": {"S": key.partition}, "sk": {"S": key.sort_key}},
            ConsistentRead=True,
        )
        return dict(response["Item"])

    def stored(self, key: EventKey) -> int:
        return int(self.item(key)["attendeeCount"]["N"])

    def true_count(self, slug: str) -> int:
        response = self.ddb.query(
            TableName=self.name,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": f"{slug}#ATTENDEE"}},
            Select="COUNT",
            ConsistentRead=True,
        )
        return int(response["Count"])

    def stream_arn(self) -> str:
        return stream_arn_for(self.ddb, self.name)

    def records(self) -> list[dict[str, Any]]:
        """Every record in the stream so far, exactly as Lambda would deliver them."""
        return collect_records(self.clients, self.stream_arn())

    def attendee_records(self) -> list[dict[str, Any]]:
        return [r for r in self.records() if r["dynamodb"]["Keys"]["pk"]["S"].endswith("#ATTENDEE")]

    def handler(self) -> StreamHandler:
        """The handler exactly as the Lambda entry point wires it, its EMF lines kept here."""
        settings = HandlerSettings(
            TableSettings(self.name, MODEL), metrics_namespace="Test/Handler"
        )
        return build_handler(settings, self.clients, emf_sink(settings, self.emf))
