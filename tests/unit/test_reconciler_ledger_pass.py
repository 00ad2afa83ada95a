"""A pass over events whose ledger is backfilled, on in-memory fakes: counters are repaired to
the ledger, lost records per key, and every control a classic write respects holds here too."""

from __future__ import annotations

from reconciler.kernel.errors import LeaseLostError
from reconciler.reconcile.core import BrakePolicy
from reconciler.reconcile.pass_control import PassControl
from reconciler.reconcile.scan_core import SweepMode
from reconciler.reconcile.summary import StopReason
from tests.fakes.reconcile import FakeClock
from tests.unit.reconciler_support import ledger_world as world
from tests.unit.reconciler_support import run_ledger as run


def test_a_counter_off_its_exact_ledger_is_set_to_the_ledgers_count() -> None:
    ledger = world()
    key = ledger.ledger_event("fest", 4)
    ledger.table.events_by_key[key].count = 9

    summary, audit = run(ledger)

    assert ledger.table.count_of(key) == 4
    assert summary.counter_repairs == summary.corrected == 1
    assert summary.ledger_events == 1
    assert summary.classic_events == 0
    assert [record.outcome for record in audit.records] == ["applied"]


def test_a_counter_kept_busy_during_every_measurement_is_left_to_the_next_pass() -> None:
    ledger = world()
    key = ledger.ledger_event("fest", 2)
    ledger.table.events_by_key[key].count = 9
    joined = iter(range(100, 1000))

    def busy(operation: str) -> None:
        if operation == "CountPresent":  # a registration lands during every count
            address = f"x{next(joined)}@example.com"
            ledger.register("fest", address)
            ledger.deliver(key, address, present=True)

    ledger.before_op = busy

    summary, _ = run(ledger)

    assert summary.in_flux == 1
    assert summary.counter_repairs == 0


def test_lost_records_are_repaired_per_key_and_the_count_ends_exact() -> None:
    ledger = world()
    key = ledger.ledger_event("fest", 3)
    ledger.register("fest", "late@example.com")  # INSERT lost
    ledger.register("fest", "later@example.com")  # INSERT lost
    ledger.unregister("fest", "fest-0@example.com")  # REMOVE lost

    summary, audit = run(ledger)

    assert summary.key_suspects == 3
    assert summary.key_repairs_missing == 2
    assert summary.key_repairs_extra == 1
    assert ledger.table.count_of(key) == 4 == ledger.table.attendees["fest"]
    assert ledger.entry("fest", "late@example.com").present  # type: ignore[union-attr]
    assert sorted(record.direction for record in audit.key_records) == [
        "extra",
        "missing",
        "missing",
    ]
    assert all("@" not in str(record.to_dict()) for record in audit.key_records)


def test_a_repair_followed_by_the_late_lost_insert_leaves_the_count_exact() -> None:
    ledger = world()
    key = ledger.ledger_event("fest", 2)
    ledger.register("fest", "late@example.com")
    run(ledger)

    assert ledger.deliver(key, "late@example.com", present=True) == 0
    assert ledger.table.count_of(key) == 3


def test_a_record_applied_within_the_settle_window_stops_the_key_repair() -> None:
    ledger = world()
    key = ledger.ledger_event("fest", 2)
    ledger.register("fest", "slow@example.com")
    clock = FakeClock()
    clock.on_sleep = lambda _now: ledger.deliver(key, "slow@example.com", present=True)

    summary, _ = run(ledger, clock=clock)

    assert summary.keys_in_flux == 1
    assert ledger.key_writes == []
    assert ledger.table.count_of(key) == 3


def test_dry_run_the_lag_gate_and_the_brake_hold_every_ledger_repair() -> None:
    for options in (
        {"dry_run": True},
        {"control": PassControl(corrections_paused=True)},
        {"brake": BrakePolicy(max_corrections=1, max_ratio=1.0, min_events_for_ratio=1000)},
    ):
        ledger = world()
        key = ledger.ledger_event("fest", 2)
        ledger.table.events_by_key[key].count = 7
        ledger.register("fest", "late@example.com")

        summary, audit = run(ledger, **options)  # type: ignore[arg-type]

        assert ledger.table.count_of(key) == 7
        assert ledger.key_writes == []
        assert summary.planned == 1
        assert summary.key_planned == 1
        assert audit.key_records[0].hold == summary.hold.value  # type: ignore[union-attr]


def test_a_lost_lease_stops_the_pass_before_any_ledger_write() -> None:
    ledger = world()
    key = ledger.ledger_event("fest", 2)
    ledger.register("fest", "late@example.com")

    def lost() -> None:
        raise LeaseLostError("taken over")

    summary, _ = run(ledger, control=PassControl(before_write=lost))

    assert summary.stop is StopReason.LEASE_LOST
    assert ledger.key_writes == []
    assert ledger.table.count_of(key) == 2


def test_a_key_repair_refused_by_its_condition_is_a_conflict() -> None:
    ledger = world()
    key = ledger.ledger_event("fest", 2)
    ledger.register("fest", "late@example.com")

    def hand_edit_before_the_write(operation: str) -> None:
        if operation == "RepairKey":
            ledger.table.events_by_key[key].count = "ten"

    ledger.before_op = hand_edit_before_the_write

    summary, audit = run(ledger)

    assert summary.key_conflicts == 1
    assert [record.outcome for record in audit.key_records] == ["conflict"]


def test_an_event_without_a_backfilled_ledger_takes_the_classic_path() -> None:
    ledger = world()
    ledger.ledger_event("fest", 1)
    classic = ledger.table.add_event("old-day", 5, attendees=2)

    summary, _ = run(ledger)

    assert summary.classic_events == 1
    assert summary.ledger_events == 1
    assert ledger.table.count_of(classic) == 2


def test_a_scan_pass_leaves_ledger_events_it_finds_in_sync_and_repairs_the_others_by_ledger():
    ledger = world()
    ledger.ledger_event("calm", 3)
    off = ledger.ledger_event("off", 4)
    ledger.table.events_by_key[off].count = 9

    summary, _ = run(ledger, sweep=SweepMode.SCAN)

    assert ledger.table.count_of(off) == 4
    assert (summary.scanned_in_sync, summary.ledger_events, summary.counter_repairs) == (1, 1, 1)
    assert ledger.requests["Backfilled"] == 1  # only for the event the scan did not find in sync
