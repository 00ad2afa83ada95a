"""The ledger path's pure decisions: which keys are suspects, when a second look confirms a
repair, and when a counter measured against its ledger is exact."""

from __future__ import annotations

from reconciler.kernel.ledger import Entry, Position
from reconciler.kernel.model import EventKey
from reconciler.reconcile.core import CounterKind, Reason, StoredCounter
from reconciler.reconcile.ledger_core import (
    AttendeeRef,
    CounterLook,
    KeyDirection,
    LedgerMeasure,
    confirm_key,
    judge_measure,
    key_repair_written,
    key_suspects,
    needs_key_listing,
)

EVENT = EventKey("EVENT", "fest#2024-11-20#conference")
ANN = AttendeeRef("fest#ATTENDEE", "ann@example.com")
BOB = AttendeeRef("fest#ATTENDEE", "bob@example.com")
AT = Position("s", f"{7:040d}")


def counter(value: int, version: int) -> StoredCounter:
    return StoredCounter(CounterKind.NUMBER, value=value, raw=f'{{"N":"{value}"}}', version=version)


def test_an_attendee_without_a_present_entry_is_a_missing_suspect() -> None:
    absent = {ANN.item: Entry(False, AT)}
    (suspect,) = key_suspects(EVENT, [ANN], absent, 5.0)
    assert suspect.direction is KeyDirection.MISSING
    assert suspect.entry == Entry(False, AT)
    assert suspect.attendee == ANN
    assert suspect.at == 5.0


def test_a_present_entry_without_an_attendee_is_an_extra_suspect() -> None:
    entries = {ANN.item: Entry(True), BOB.item: Entry(True, AT)}
    (suspect,) = key_suspects(EVENT, [ANN], entries, 5.0)
    assert suspect.direction is KeyDirection.EXTRA
    assert suspect.item == BOB.item
    assert suspect.attendee is None


def test_agreeing_keys_and_absent_entries_of_gone_attendees_are_not_suspects() -> None:
    entries = {ANN.item: Entry(True), BOB.item: Entry(False, AT)}
    assert list(key_suspects(EVENT, [ANN], entries, 5.0)) == []


def test_an_attendee_key_never_shows_in_a_suspects_repr() -> None:
    (suspect,) = key_suspects(EVENT, [ANN], {}, 5.0)
    assert "ann@example.com" not in repr(suspect)
    assert "ann@example.com" not in repr(ANN)


def test_a_missing_key_unchanged_at_the_second_look_is_repaired_present_keeping_its_position() -> (
    None
):
    (suspect,) = key_suspects(EVENT, [ANN], {ANN.item: Entry(False, AT)}, 5.0)
    repair = confirm_key(suspect, Entry(False, AT), attendee_exists=True)
    assert repair is not None
    assert repair.entry == Entry(True, AT)
    assert repair.before == Entry(False, AT)
    assert repair.delta == 1


def test_an_extra_key_unchanged_at_the_second_look_is_repaired_absent() -> None:
    (suspect,) = key_suspects(EVENT, [], {BOB.item: Entry(True)}, 5.0)
    repair = confirm_key(suspect, Entry(True), attendee_exists=False)
    assert repair is not None
    assert repair.entry == Entry(False)
    assert repair.delta == -1


def test_a_key_whose_entry_moved_between_the_looks_is_not_repaired() -> None:
    (suspect,) = key_suspects(EVENT, [ANN], {}, 5.0)
    assert confirm_key(suspect, Entry(True, AT), attendee_exists=True) is None
    assert confirm_key(suspect, Entry(False, AT), attendee_exists=True) is None


def test_a_key_that_agrees_again_at_the_second_look_is_not_repaired() -> None:
    (missing,) = key_suspects(EVENT, [ANN], {}, 5.0)
    (extra,) = key_suspects(EVENT, [], {BOB.item: Entry(True)}, 5.0)
    assert confirm_key(missing, None, attendee_exists=False) is None
    assert confirm_key(extra, Entry(True), attendee_exists=True) is None


def test_a_counter_read_twice_at_one_version_gives_the_exact_gap() -> None:
    measure = LedgerMeasure(EVENT, counter(10, 4), 3, counter(10, 4))
    look, correction = judge_measure(measure)
    assert look is CounterLook.GAP
    assert correction is not None
    assert correction.delta == -7
    assert correction.reason is Reason.DRIFT


def test_a_counter_that_moved_while_the_entries_were_counted_is_in_flux() -> None:
    assert judge_measure(LedgerMeasure(EVENT, counter(10, 4), 3, counter(11, 5)))[0] is (
        CounterLook.IN_FLUX
    )


def test_a_counter_equal_to_its_ledger_is_in_sync_and_a_deleted_event_vanished() -> None:
    assert judge_measure(LedgerMeasure(EVENT, counter(3, 4), 3, counter(3, 4)))[0] is (
        CounterLook.IN_SYNC
    )
    assert judge_measure(LedgerMeasure(EVENT, counter(3, 4), 3, None))[0] is CounterLook.VANISHED


def test_an_unreadable_version_is_a_gap_even_when_the_count_is_right() -> None:
    stored = StoredCounter(
        CounterKind.NUMBER, 3, '{"N":"3"}', version_unreadable=True, version_raw='{"S":"v7"}'
    )
    look, correction = judge_measure(LedgerMeasure(EVENT, stored, 3, stored))
    assert look is CounterLook.GAP
    assert correction is not None
    assert correction.reason is Reason.INVALID_VERSION
    assert correction.version_after == 1


def test_keys_are_listed_only_when_entries_and_attendees_disagree_or_the_counter_moved() -> None:
    assert not needs_key_listing(CounterLook.IN_SYNC, present=5, attendees=5)
    assert needs_key_listing(CounterLook.IN_SYNC, present=5, attendees=6)
    assert not needs_key_listing(CounterLook.GAP, present=5, attendees=5)
    assert needs_key_listing(CounterLook.GAP, present=5, attendees=6)
    assert needs_key_listing(CounterLook.IN_FLUX, present=5, attendees=5)


def test_a_key_repair_reads_back_as_written_only_with_its_own_entry() -> None:
    (suspect,) = key_suspects(EVENT, [ANN], {ANN.item: Entry(False, AT)}, 5.0)
    repair = confirm_key(suspect, Entry(False, AT), attendee_exists=True)
    assert repair is not None
    assert key_repair_written(repair.entry, Entry(True, AT))
    assert not key_repair_written(repair.entry, Entry(False, AT))  # never written
    later = Position("s", f"{9:040d}")
    assert not key_repair_written(repair.entry, Entry(True, later))  # the handler moved it since
    assert not key_repair_written(repair.entry, None)
