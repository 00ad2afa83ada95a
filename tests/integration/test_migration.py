"""The roll-out of the ledger on a table the old handler wrote, step by step on a moto server,
with registration traffic throughout: state table first, our handler second, backfill third,
then ``reconciler run`` makes every counter exact (docs/deployment.md, "Upgrading to the
ledger")."""

from __future__ import annotations

import uuid

import pytest

from reconciler.kernel.aws import Clients
from tests.integration.migration_world import TOO_HIGH, Migration
from tests.integration.serial_moto import aws  # noqa: F401 - one request at a time

pytestmark = pytest.mark.slow


@pytest.fixture
def world(clients: Clients, aws: str) -> Migration:  # noqa: F811 - the serial moto
    return Migration(clients, f"registrations-{uuid.uuid4().hex[:8]}", aws, events=6)


def test_the_documented_roll_out_on_a_table_the_old_handler_wrote_ends_with_every_counter_exact(
    world: Migration,
) -> None:
    # GIVEN counters written by the old handler: dropped batches and a restored event whose
    # counterSeq is above every sequence number, so the old handler stopped counting it
    world.old_era(attendees=8)
    before = world.snapshots["old_era"]
    assert world.pump.stats.injected_drops == 2
    assert world.item(world.restored)["counterSeq"]["S"] == TOO_HIGH
    assert before[world.restored.slug] < 0  # its registrations since the restore went uncounted
    assert world.old.skipped > 0
    assert world.report.drifted_events_before >= 2

    # 1. the state table: the registration table is only checked, never changed
    init = world.init()
    assert init["exit_code"] == 0
    assert (init["registration_table"], init["state_table"]) == ("existed", "created")
    assert world.ledger_items(world.keys[0].slug) == []

    # 2. our handler takes over the mapping; the batch in flight is delivered to it again
    in_flight = world.switch()
    redelivered = world.snapshots["after_redelivery"]
    at_switch = world.snapshots["at_switch"]
    # its three registrations and one cancellation, which the old handler had applied, count
    # again: the new handler has no record of the old one's work (docs: "At the switch")
    assert redelivered[world.keys[0].slug] == at_switch[world.keys[0].slug] + 3
    assert redelivered[world.keys[1].slug] == at_switch[world.keys[1].slug] - 1
    assert world.report.recounted_at_switch == len(in_flight) == 4
    # every batch the old handler completed stays with it: the mapping's checkpoint holds
    both = world.switch_.delivered["old"] & world.switch_.delivered["new"]
    last_old = world.switch_.last_old_event
    assert last_old is not None
    assert both == {r["dynamodb"]["SequenceNumber"] for r in last_old["Records"]}
    # from then on every record is counted exactly, the restored event's too (counterSeq ignored)
    assert world.snapshots["after_switch"] == redelivered
    assert world.item(world.restored)["counterSeq"]["S"] == TOO_HIGH

    # 3. the backfill beside live traffic: every attendee gets an entry, every event is marked
    backfill = world.backfill(settle_seconds=1.0)
    assert backfill["exit_code"] == 0
    done = backfill["backfill"]
    assert done["events_completed"] == done["events"] == len(world.keys)
    assert done["entries_existing"] > 0  # the live handler's entries were left alone
    for key in world.keys:
        ledger = world.ledger(key.slug)
        present = sum(1 for entry in ledger.values() if entry.present)
        assert present == world.true_count(key.slug)

    # 4. run: every event is checked against its ledger, and every counter ends exact
    summaries = world.passes()
    assert summaries[0].ledger_events == len(world.keys)
    assert summaries[0].classic_events == 0
    assert world.drift() == dict.fromkeys(world.people, 0)
    assert world.report.exact_after
    assert world.report.passes_needed == 1


def test_before_the_backfill_a_pass_checks_every_event_the_classic_way(world: Migration) -> None:
    world.old_era(attendees=3)
    world.init()
    world.switch()

    drifted = sum(1 for value in world.drift().values() if value)

    (summary,) = world.passes(limit=1, traffic_per_sleep=0)

    assert (summary.classic_events, summary.ledger_events) == (len(world.keys), 0)
    assert summary.corrected == drifted > 0  # quiet events: the classic path repairs them
    assert world.drift() == dict.fromkeys(world.people, 0)
    meta = [row for row in world.ledger_items(world.keys[0].slug) if row["sk"]["S"] == "#meta"]
    assert world.ledger_items(world.keys[0].slug)  # the handler's entries,
    assert meta == []  # but no backfill mark
