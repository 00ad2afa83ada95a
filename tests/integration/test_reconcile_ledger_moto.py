"""Events whose ledger is backfilled are repaired exactly through it, on a moto server: a hand
edit by one ADD, a lost INSERT or REMOVE per key, a hot event while it is hot; a key whose entry
moves between the looks is left alone, and an event without a backfilled ledger takes the
classic path."""

from __future__ import annotations

import threading
import time

import pytest

from reconciler.kernel.aws import Clients
from reconciler.kernel.ledger import Entry
from reconciler.kernel.model import EventKey
from reconciler.reconcile.bootstrap import build_reconciler
from tests.fakes.reconcile import FakeClock, RecordingAuditSink
from tests.integration.ledger_world import EVENT, SLUG, LedgerWorld, email
from tests.integration.reconcile_pass import run_pass, settings_for
from tests.integration.serial_moto import aws  # noqa: F401 - one request at a time

CLASSIC = EventKey("EVENT", "classic-day#2024-11-21#workshop")


@pytest.fixture
def world(clients: Clients, table_name: str) -> LedgerWorld:
    return LedgerWorld(clients, table_name)


def test_a_hand_edited_counter_on_an_exact_ledger_is_repaired_by_one_add(
    world: LedgerWorld,
) -> None:
    world.ledger_event(attendees=3)
    world.hand_edit(EVENT, 10)
    version = world.version(EVENT)

    summary = run_pass(world)

    assert world.stored(EVENT) == 3
    assert world.version(EVENT) == version + 1
    assert summary.ledger_events == 1
    assert summary.classic_events == 0
    assert summary.counter_repairs == summary.corrected == 1
    assert summary.drift_over == 1
    assert summary.key_suspects == 0


def test_a_lost_insert_is_repaired_per_key(world: LedgerWorld) -> None:
    world.ledger_event(attendees=2)
    world.register(SLUG, email(7))  # its INSERT never reached the handler

    audit = RecordingAuditSink()
    clock = FakeClock()
    reconciler = build_reconciler(
        settings_for(world),
        world.clients,
        clock=clock,
        sleep=clock.sleep,
        extra_key_audit_sinks=[audit],
    )
    try:
        summary = reconciler.run_pass()
    finally:
        reconciler.close()

    assert world.stored(EVENT) == 3 == world.true_count(SLUG)
    assert world.entry(SLUG, email(7)) == Entry(present=True)
    assert summary.key_suspects == 1
    assert summary.key_repairs_missing == 1
    assert summary.key_repairs_extra == 0
    assert clock.slept  # the repair waited for its settle window
    (record,) = audit.key_records
    assert record.direction == "missing"
    assert record.delta == 1
    assert record.outcome == "applied"
    assert email(7) not in str(record.to_dict())


def test_a_lost_remove_is_repaired_per_key_and_leaves_a_tombstone(world: LedgerWorld) -> None:
    world.ledger_event(attendees=3)
    world.unregister(SLUG, email(1))  # its REMOVE never reached the handler

    summary = run_pass(world)

    assert world.stored(EVENT) == 2 == world.true_count(SLUG)
    assert world.entry(SLUG, email(1)) is not None
    assert world.entry(SLUG, email(1)).present is False  # type: ignore[union-attr]
    assert "expiresAt" in world.raw_entry(SLUG, email(1))
    assert summary.key_repairs_extra == 1


def test_a_late_insert_after_a_repair_adds_nothing(world: LedgerWorld) -> None:
    world.ledger_event(attendees=2)
    world.register(SLUG, email(7))
    run_pass(world)
    assert world.stored(EVENT) == 3

    added = world.deliver(EVENT, email(7), present=True)  # the lost INSERT, late after all

    assert added == 0
    assert world.stored(EVENT) == 3 == world.true_count(SLUG)


def test_a_key_whose_entry_moves_between_the_looks_is_not_repaired(world: LedgerWorld) -> None:
    world.ledger_event(attendees=2)
    world.register(SLUG, email(7))
    clock = FakeClock()
    delivered: list[int] = []

    def deliver_late(_now: float) -> None:
        if not delivered:  # the INSERT was only slow: the handler applies it in the window
            delivered.append(world.deliver(EVENT, email(7), present=True))

    clock.on_sleep = deliver_late

    summary = run_pass(world, clock=clock)

    assert delivered == [1]
    assert summary.key_suspects == 1
    assert summary.keys_in_flux == 1
    assert summary.key_repairs_missing == 0
    assert world.stored(EVENT) == 3 == world.true_count(SLUG)


def test_a_hot_event_still_gets_its_hand_edit_repaired(world: LedgerWorld) -> None:
    world.ledger_event(attendees=3)
    world.hand_edit(EVENT, 50)
    stop = threading.Event()
    joined: list[int] = []

    def keep_registering() -> None:
        i = 100
        while not stop.is_set():
            world.join(EVENT, email(i))
            joined.append(i)
            i += 1
            time.sleep(0.05)  # about ten registrations a second, for the whole pass

    thread = threading.Thread(target=keep_registering, daemon=True)
    thread.start()
    try:
        while len(joined) < 3:
            time.sleep(0.01)
        summary = run_pass(world)
    finally:
        stop.set()
        thread.join(timeout=10)

    assert summary.counter_repairs == 1
    assert joined
    assert world.stored(EVENT) == world.true_count(SLUG) == 3 + len(joined)


def test_several_hot_events_are_repaired_side_by_side_while_their_traffic_continues(
    world: LedgerWorld,
) -> None:
    # GIVEN four events, each with a hand-edited counter and a lost registration, and a live
    # handler registering attendees on all of them for the whole pass
    events = [EventKey("EVENT", f"hot-{i}#2024-11-20#conference") for i in range(4)]
    for key in events:
        world.ledger_event(key, attendees=2)
        world.hand_edit(key, 40)
        world.register(key.slug, email(90))  # its INSERT never reached the handler
    stop = threading.Event()
    joined: list[int] = []

    def keep_registering() -> None:
        i = 100
        while not stop.is_set():
            for key in events:
                world.join(key, email(i))
            joined.append(i)
            i += 1
            time.sleep(0.05)

    thread = threading.Thread(target=keep_registering, daemon=True)
    thread.start()
    try:
        while len(joined) < 2:
            time.sleep(0.01)
        # WHEN one pass runs four events at a time
        summary = run_pass(world, concurrency=4)
    finally:
        stop.set()
        thread.join(timeout=10)

    # THEN every counter and every lost registration was repaired, and each event ends exact
    assert summary.failed is False, summary.error
    assert summary.counter_repairs == 4
    assert summary.key_repairs_missing == 4
    for key in events:
        assert world.stored(key) == world.true_count(key.slug) == 3 + len(joined)


def test_an_event_without_a_backfilled_ledger_takes_the_classic_path(world: LedgerWorld) -> None:
    world.ledger_event(attendees=1)
    world.put_event(CLASSIC, 5)
    for i in range(2):
        world.register(CLASSIC.slug, email(i))

    summary = run_pass(world)

    assert summary.ledger_events == 1
    assert summary.classic_events == 1
    assert summary.corrected == 1
    assert summary.counter_repairs == 0
    assert world.stored(CLASSIC) == 2


def test_without_a_state_table_every_event_takes_the_classic_path_quietly(
    world: LedgerWorld,
) -> None:
    world.ddb.delete_table(TableName=world.state)
    world.put_event(CLASSIC, 5)
    world.register(CLASSIC.slug, email(0))

    summary = run_pass(world)

    assert summary.classic_events == 1
    assert summary.ledger_events == 0
    assert world.stored(CLASSIC) == 1
    assert summary.io.errors == {}
