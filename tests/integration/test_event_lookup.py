from __future__ import annotations

import pytest

from reconciler.kernel.errors import AwsError
from reconciler.kernel.event_lookup import DynamoEventLocator, LookupOutcome
from reconciler.kernel.model import EventKey, ItemKind, TableModel, classify


def put_event(clients, table_name: str, pk: str, sk: str) -> None:  # type: ignore[no-untyped-def]
    clients.dynamodb().put_item(
        TableName=table_name, Item={"pk": {"S": pk}, "sk": {"S": sk}, "attendeeCount": {"N": "0"}}
    )


def test_prefix_slug_never_matches_a_longer_slug(clients, table_name):  # type: ignore[no-untyped-def]
    # GIVEN only an event whose slug starts with "workshop"
    put_event(clients, table_name, "EVENT", "workshop-ai#2024-11-15#workshop")
    locator = DynamoEventLocator(clients.dynamodb(), table_name, TableModel())
    # THEN "workshop" is an orphan, and "workshop-ai" is found
    assert locator.find("workshop").outcome is LookupOutcome.ORPHAN
    found = locator.find("workshop-ai")
    assert found.key == EventKey("EVENT", "workshop-ai#2024-11-15#workshop")


def test_same_slug_in_both_partitions_is_ambiguous(clients, table_name):  # type: ignore[no-untyped-def]
    put_event(clients, table_name, "FAD", "tech#2024-10-27#conference")
    put_event(clients, table_name, "EVENT", "tech#2024-10-27#conference")
    locator = DynamoEventLocator(clients.dynamodb(), table_name, TableModel())
    assert locator.find("tech").outcome is LookupOutcome.AMBIGUOUS


def test_slug_with_separator_is_never_queried(clients, table_name):  # type: ignore[no-untyped-def]
    put_event(clients, table_name, "FAD", "a#b#c")
    locator = DynamoEventLocator(clients.dynamodb(), table_name, TableModel())
    assert locator.find("a#b").outcome is LookupOutcome.ORPHAN


def test_missing_table_is_a_clear_aws_error(clients):  # type: ignore[no-untyped-def]
    locator = DynamoEventLocator(clients.dynamodb(), "no-such-table", TableModel())
    with pytest.raises(AwsError, match="ResourceNotFoundException"):
        locator.find("tech")


def test_a_sort_key_of_the_slug_and_separator_alone_is_no_event_here_or_in_a_pass(  # type: ignore[no-untyped-def]
    clients, table_name
):
    # GIVEN an item "<slug>#" in an event partition: it matches the lookup's prefix, but the
    # pass's listing has never counted it as an event
    put_event(clients, table_name, "FAD", "workshop#")
    locator = DynamoEventLocator(clients.dynamodb(), table_name, TableModel())
    # THEN the handler's lookup does not count registrations onto it either
    assert locator.find("workshop").outcome is LookupOutcome.ORPHAN
    assert classify("FAD", "workshop#", TableModel()).kind is ItemKind.OTHER
