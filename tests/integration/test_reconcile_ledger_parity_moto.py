"""The ledger path's parity with the classic path, on a moto server: an unreadable
counterVersion replaced by a SET on its exact raw value, a repair whose response was lost (botocore
retried a write that had landed, and the retry's own condition refused it) read back as applied,
key repairs audited ahead in the audit file, and key suspects capped per pass."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.kernel.aws import Clients
from reconciler.kernel.ledger import Entry
from tests.integration.ledger_world import EVENT, SLUG, LedgerWorld, email
from tests.integration.reconcile_pass import run_pass

KEY = {"pk": {"S": EVENT.partition}, "sk": {"S": EVENT.sort_key}}


@pytest.fixture
def world(clients: Clients, table_name: str) -> LedgerWorld:
    return LedgerWorld(clients, table_name)


def retry_the_first_success(world: LedgerWorld, operation: str) -> list[int]:
    """Makes botocore retry the next successful ``operation`` as if its response were lost:
    the write has landed, and the retry meets the write's own condition."""
    forced: list[int] = []

    def needs_retry(response: Any, attempts: int, **_: Any) -> int | None:
        if forced or response is None or response[0].status_code != 200:
            return None
        forced.append(attempts)
        return 0  # retry at once

    world.ddb.meta.events.register_first(f"needs-retry.dynamodb.{operation}", needs_retry)
    return forced


def test_an_unreadable_counter_version_is_replaced_on_a_ledger_event(world: LedgerWorld) -> None:
    world.ledger_event(attendees=3)
    world.ddb.update_item(
        TableName=world.name,
        Key=KEY,
        UpdateExpression="SET counterVersion = :v",
        ExpressionAttributeValues={":v": {"S": "v7"}},
    )

    summary = run_pass(world)

    assert world.item(EVENT)["counterVersion"] == {"N": "1"}
    assert world.stored(EVENT) == 3
    assert (summary.unsupported, summary.versions_replaced) == (1, 1)
    assert world.deliver(EVENT, email(9), present=True) == 1  # the handler adds again
    assert world.version(EVENT) == 2


def test_a_counter_repair_whose_response_was_lost_is_read_back_as_applied(
    world: LedgerWorld,
) -> None:
    world.ledger_event(attendees=3)
    world.hand_edit(EVENT, 10)
    forced = retry_the_first_success(world, "UpdateItem")

    summary = run_pass(world)

    assert forced == [1]
    assert world.stored(EVENT) == 3
    assert (summary.corrected, summary.conflicts, summary.lost_responses) == (1, 0, 1)


def test_a_key_repair_whose_response_was_lost_is_read_back_as_applied(
    world: LedgerWorld,
) -> None:
    world.ledger_event(attendees=2)
    world.register(SLUG, email(7))  # its INSERT never reached the handler
    forced = retry_the_first_success(world, "TransactWriteItems")

    summary = run_pass(world)

    assert forced == [1]
    assert world.stored(EVENT) == 3 == world.true_count(SLUG)
    assert world.entry(SLUG, email(7)) == Entry(present=True)
    assert (summary.key_repairs_missing, summary.key_conflicts) == (1, 0)
    assert summary.lost_responses == 1


def test_a_key_repair_is_audited_ahead_in_the_audit_file(
    world: LedgerWorld, tmp_path: Path
) -> None:
    world.ledger_event(attendees=2)
    world.register(SLUG, email(7))
    path = tmp_path / "audit.jsonl"

    run_pass(world, audit_file=path)

    lines = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]
    keys = [line for line in lines if line.get("kind") == "key_repair"]
    assert [(line["phase"], line["outcome"]) for line in keys] == [
        ("intent", None),
        ("outcome", "applied"),
    ]
    assert email(7) not in path.read_text(encoding="utf-8")


def test_key_suspects_beyond_the_cap_wait_for_the_next_pass(world: LedgerWorld) -> None:
    world.ledger_event(attendees=1)
    for i in range(10, 13):
        world.register(SLUG, email(i))

    first = run_pass(world, max_key_suspects=2)

    assert (first.key_suspects, first.key_suspects_deferred) == (3, 1)
    assert world.stored(EVENT) == 3
    run_pass(world, max_key_suspects=2)
    assert world.stored(EVENT) == 4 == world.true_count(SLUG)


def test_an_exact_ledger_event_is_not_listed_key_by_key(world: LedgerWorld) -> None:
    world.ledger_event(attendees=3)

    exact = run_pass(world)
    world.register(SLUG, email(7))  # now the attendee count differs from the present entries
    listed = run_pass(world)

    assert (exact.key_listings_skipped, listed.key_listings_skipped) == (1, 0)
    assert (exact.key_suspects, listed.key_suspects) == (0, 1)
    # Listing is one Query of the entries and one of the attendee keys, every page.
    assert listed.io.requests["Query"] - exact.io.requests["Query"] == 2
