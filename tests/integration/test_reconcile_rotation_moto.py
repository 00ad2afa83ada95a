"""The rotating sweep against a moto server: successive budgeted passes cover every event,
remember what they verified in the state table, and repair a hand edit at once."""

from __future__ import annotations

import pytest

from reconciler.kernel.aws import Clients
from reconciler.kernel.ledger import default_state_table
from reconciler.kernel.model import EventKey
from reconciler.reconcile.rotation_core import record_key
from reconciler.reconcile.rotation_dynamo import RECORD_PARTITION
from tests.integration.reconcile_pass import register, run_pass
from tests.integration.traffic import Table

EVENTS = [EventKey("EVENT", f"meetup-{i:02d}#2025-01-{i + 1:02d}#meetup") for i in range(9)]


@pytest.fixture
def table(clients: Clients, table_name: str) -> Table:
    table = Table(clients, table_name)
    for index, key in enumerate(EVENTS):
        table.put_event(key, index % 3)
        register(table, key.slug, index % 3)
    return table


def verification_records(table: Table) -> dict[str, str]:
    response = table.ddb.query(
        TableName=default_state_table(table.name),
        KeyConditionExpression="pk = :pk",
        ExpressionAttributeValues={":pk": {"S": RECORD_PARTITION}},
    )
    return {item["sk"]["S"]: item["fp"]["S"] for item in response["Items"]}


def test_budgeted_passes_rotate_through_every_event_and_remember_them(table: Table):
    recounted: set[str] = set()
    for _ in range(6):
        summary = run_pass(table, settle_seconds=0.0, max_read_units=6.0)
        assert summary.failed is False, summary.error
        assert summary.rotation is not None
        assert summary.rotation.rotated < len(EVENTS)  # the budget really limits each pass
        recounted |= set(verification_records(table))
    assert recounted == {record_key(key.slug) for key in EVENTS}


def test_a_hand_edit_on_a_verified_event_is_repaired_by_the_next_budgeted_pass(table: Table):
    first = run_pass(table, settle_seconds=0.0, full_sweep_every=86400.0)
    assert first.rotation is not None
    assert first.rotation.rotated == len(EVENTS)  # no history yet: the whole table, once
    edited = EVENTS[4]
    table.ddb.update_item(
        TableName=table.name,
        Key={"pk": {"S": edited.partition}, "sk": {"S": edited.sort_key}},
        UpdateExpression="SET attendeeCount = :v",
        ExpressionAttributeValues={":v": {"N": "40"}},
    )
    second = run_pass(table, settle_seconds=0.0, full_sweep_every=86400.0)
    assert second.rotation is not None
    assert second.rotation.changed == 1
    assert second.corrected == 1
    assert table.stored(edited) == table.true_count(edited.slug)
