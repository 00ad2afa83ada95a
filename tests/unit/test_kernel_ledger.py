"""The ledger's layout: what an entry looks like stored, and what every write of one is
conditioned on."""

from __future__ import annotations

import pytest

from reconciler.kernel.ledger import (
    TOMBSTONE_TTL_SECONDS,
    Entry,
    LedgerModel,
    Position,
    default_state_table,
    entry_from_item,
    entry_item,
    item_hash,
    stream_label,
    unchanged_since,
)
from reconciler.kernel.model import pad_sequence

LEDGER = LedgerModel()
AT = Position("2024-10-27T00:00:00.000", pad_sequence("4200"))


def test_an_item_hash_is_stable_and_holds_no_part_of_the_email():
    name = item_hash("tech-summit-2024#ATTENDEE", "ada@example.com")
    assert name == item_hash("tech-summit-2024#ATTENDEE", "ada@example.com")
    assert len(name) == 32
    assert "ada" not in name
    assert name != item_hash("tech-summit-2024#ATTENDEE", "grace@example.com")
    assert name != item_hash("workshop#ATTENDEE", "ada@example.com")


def test_positions_order_by_stream_then_sequence_and_survive_storage():
    later_stream = Position("2024-11-01T00:00:00.000", pad_sequence("1"))
    assert later_stream > AT
    assert Position.parse(AT.render()) == AT


@pytest.mark.parametrize("text", [None, 42, "no-slash", "label/123", "label/" + "x" * 40])
def test_anything_that_is_not_a_stored_position_parses_as_none(text: object):
    assert Position.parse(text) is None


def test_the_stream_label_is_the_last_part_of_the_stream_arn():
    arn = "arn:aws:dynamodb:us-east-1:123456789012:table/t/stream/2024-10-27T00:00:00.000"
    assert stream_label(arn) == "2024-10-27T00:00:00.000"
    assert stream_label("arn:aws:dynamodb:us-east-1:123456789012:table/t") == ""
    assert stream_label(None) == ""


def test_an_absent_entry_is_stored_with_an_expiry_past_the_streams_retention():
    stored = entry_item("tech-summit-2024", "abc", Entry(False, AT), LEDGER, now=1000.0)
    assert stored["pk"] == {"S": "LEDGER#tech-summit-2024"}
    assert stored["expiresAt"] == {"N": str(1000 + TOMBSTONE_TTL_SECONDS)}
    assert TOMBSTONE_TTL_SECONDS > 24 * 3600
    assert entry_from_item(stored, LEDGER) == Entry(False, AT)


def test_a_present_entry_has_no_expiry_and_a_backfilled_one_no_position():
    stored = entry_item("tech-summit-2024", "abc", Entry(True, None), LEDGER, now=1000.0)
    assert "expiresAt" not in stored
    assert "pos" not in stored
    assert entry_from_item(stored, LEDGER) == Entry(True, None)


def test_a_hand_edited_entry_without_present_reads_as_present():
    assert entry_from_item({"pk": {"S": "LEDGER#x"}}, LEDGER).present is True


@pytest.mark.parametrize(
    ("before", "expression"),
    [
        (None, "attribute_not_exists(#pk)"),
        (Entry(True, None), "#present = :present AND attribute_not_exists(#pos)"),
        (Entry(False, AT), "#present = :present AND #pos = :pos"),
    ],
)
def test_every_entry_write_is_conditioned_on_the_entry_as_read(
    before: Entry | None, expression: str
):
    condition = unchanged_since(before, LEDGER)
    assert condition.expression == expression
    if before is not None:
        assert condition.values[":present"] == {"BOOL": before.present}
    if before is not None and before.position is not None:
        assert condition.values[":pos"] == {"S": before.position.render()}


def test_the_state_table_defaults_to_the_table_name_plus_state():
    assert default_state_table("registrations") == "registrations-state"
    assert default_state_table("") == ""
