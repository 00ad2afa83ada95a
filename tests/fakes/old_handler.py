"""The stream handler before the ledger (0.1.x), as it wrote the counters a migration starts from.

Per INSERT or REMOVE record of an attendee, one ``UpdateItem`` on its event item:
``ADD attendeeCount ±1, counterVersion 1 SET counterSeq = <padded sequence number>``, on
condition that the event item exists and its ``counterSeq`` (the round-one watermark) is absent
or below the record's. A refused condition means "applied before" and the record is skipped, so
a ``counterSeq`` set too high (a restore, a copy from another table) silences its event for
good. MODIFY changes nothing; records of other items are ignored; the event is found the way the
real handler finds it. It keeps no ledger, so a migration must start from whatever it counted.

It talks to DynamoDB (a moto server in the tests), not to a dict: the migration test needs the
registration table exactly as this handler leaves it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from reconciler.kernel.event_lookup import DynamoEventLocator
from reconciler.kernel.model import TableModel, pad_sequence

MODEL = TableModel()


@dataclass
class OldHandler:
    client: Any
    """A DynamoDB client (``Clients.dynamodb()``)."""
    table_name: str
    model: TableModel = MODEL
    applied: int = 0
    """Records that moved a counter."""
    skipped: int = 0
    """Records refused by the watermark (applied before, or a ``counterSeq`` set too high)."""
    invocations: list[list[str]] = field(default_factory=list)
    """Sequence numbers of every batch it was given."""

    def __call__(self, event: dict[str, Any], _context: object = None) -> dict[str, list[Any]]:
        records = event["Records"]
        self.invocations.append([r["dynamodb"]["SequenceNumber"] for r in records])
        locator = DynamoEventLocator(self.client, self.table_name, self.model)
        for record in records:
            delta = {"INSERT": 1, "REMOVE": -1}.get(record["eventName"], 0)
            pk = record["dynamodb"]["Keys"][self.model.pk_attr]["S"]
            if delta == 0 or not pk.endswith(self.model.attendee_suffix):
                continue
            found = locator.find(pk[: -len(self.model.attendee_suffix)])
            if found.key is None:
                continue
            self._add(found.key.partition, found.key.sort_key, delta, record)
        return {"batchItemFailures": []}

    def _add(self, partition: str, sort_key: str, delta: int, record: dict[str, Any]) -> None:
        sequence = pad_sequence(record["dynamodb"]["SequenceNumber"])
        try:
            self.client.update_item(
                TableName=self.table_name,
                Key={"pk": {"S": partition}, "sk": {"S": sort_key}},
                UpdateExpression="ADD attendeeCount :d, counterVersion :one SET counterSeq = :seq",
                ConditionExpression="attribute_exists(pk) AND "
                "(attribute_not_exists(counterSeq) OR counterSeq < :seq)",
                ExpressionAttributeValues={
                    ":d": {"N": str(delta)},
                    ":one": {"N": "1"},
                    ":seq": {"S": sequence},
                },
            )
        except self.client.exceptions.ConditionalCheckFailedException:
            self.skipped += 1
            return
        self.applied += 1
