"""The pure decisions of a pass, outcome by outcome."""

from __future__ import annotations

import pytest

from reconciler.kernel.model import EventKey
from reconciler.reconcile.core import (
    REPLACED_VERSION,
    BrakePolicy,
    Correction,
    CorrectionOutcome,
    CounterKind,
    FirstLook,
    Hold,
    Observation,
    Reason,
    Recheck,
    Shard,
    StoredCounter,
    WriteMode,
    brake,
    confirm,
    correction_reason,
    drift_direction,
    first_look,
    in_shard,
    plan_corrections,
    reason_for,
    recheck_due,
    shard_of,
    written,
)

KEY = EventKey("EVENT", "tech#2024-10-27#conference")
POLICY = BrakePolicy(max_corrections=10, max_ratio=0.5, min_events_for_ratio=4)


def number(value: int, version: int | None = 3) -> StoredCounter:
    return StoredCounter(CounterKind.NUMBER, value=value, raw=f'{{"N":"{value}"}}', version=version)


def look(stored: StoredCounter | None, counted: int, at: float = 100.0) -> Observation:
    return Observation(KEY, stored, counted, at)


MISSING = StoredCounter(CounterKind.MISSING, version=None)
INVALID = StoredCounter(CounterKind.INVALID, raw='{"S":"ten"}', version=2)


# -- first look ------------------------------------------------------------------------------


def test_equal_stored_and_counted_values_are_in_sync():
    assert first_look(look(number(7), 7)) is FirstLook.IN_SYNC


@pytest.mark.parametrize("stored", [number(8), number(6), MISSING, INVALID])
def test_any_difference_makes_a_suspect(stored: StoredCounter):
    assert first_look(look(stored, 7)) is FirstLook.SUSPECT


def test_a_missing_counter_is_a_suspect_even_with_no_attendees():
    # Absent is not zero: the item must be initialized so the handler's ADD has a base.
    assert first_look(look(MISSING, 0)) is FirstLook.SUSPECT
    assert reason_for(MISSING, 0) is Reason.MISSING


def test_an_event_item_that_disappeared_is_vanished():
    assert first_look(look(None, 0)) is FirstLook.VANISHED


UNREADABLE = {"version_unreadable": True, "version_raw": '{"S":"v7"}'}


def test_an_unreadable_version_is_a_suspect_whose_correction_replaces_it():
    stored = StoredCounter(CounterKind.NUMBER, value=3, raw='{"N":"3"}', **UNREADABLE)
    assert first_look(look(stored, 5)) is FirstLook.SUSPECT
    verdict, correction = confirm(look(stored, 5), look(stored, 5))
    assert verdict is Recheck.CONFIRMED
    assert correction is not None
    assert (correction.reason, correction.version_after) == (Reason.DRIFT, REPLACED_VERSION)


def test_an_unreadable_version_on_an_exact_counter_is_corrected_for_its_version_alone():
    stored = StoredCounter(CounterKind.NUMBER, value=5, raw='{"N":"5"}', **UNREADABLE)
    assert first_look(look(stored, 5)) is FirstLook.SUSPECT
    assert correction_reason(stored, 5) is Reason.INVALID_VERSION
    assert reason_for(stored, 5) is None


def test_an_unreadable_version_that_changed_between_the_looks_is_in_flux():
    first = StoredCounter(CounterKind.NUMBER, value=5, raw='{"N":"5"}', **UNREADABLE)
    second = StoredCounter(
        CounterKind.NUMBER,
        value=5,
        raw='{"N":"5"}',
        version_unreadable=True,
        version_raw='{"S":"v8"}',
    )
    assert confirm(look(first, 4), look(second, 4)) == (Recheck.IN_FLUX, None)


def test_a_read_back_holding_the_counted_value_and_the_next_version_was_written():
    stored = StoredCounter(CounterKind.NUMBER, value=3, raw='{"N":"3"}', version=7)
    correction = Correction(KEY, Reason.DRIFT, stored, 5)
    assert written(correction, StoredCounter(CounterKind.NUMBER, 5, '{"N":"5"}', 8))
    assert not written(correction, StoredCounter(CounterKind.NUMBER, 5, '{"N":"5"}', 9))
    assert not written(correction, StoredCounter(CounterKind.NUMBER, 6, '{"N":"6"}', 8))
    assert not written(correction, stored)
    assert not written(correction, None)


@pytest.mark.parametrize(
    ("stored", "reason"),
    [(number(8), Reason.DRIFT), (MISSING, Reason.MISSING), (INVALID, Reason.INVALID)],
)
def test_reasons_name_what_is_wrong(stored: StoredCounter, reason: Reason):
    assert reason_for(stored, 7) is reason


# -- recheck ---------------------------------------------------------------------------------


def test_identical_looks_confirm_the_drift():
    verdict, correction = confirm(look(number(9), 7), look(number(9), 7, at=300.0))
    assert verdict is Recheck.CONFIRMED
    assert correction == Correction(KEY, Reason.DRIFT, number(9), 7)
    assert correction.delta == -2


def test_a_changed_version_is_in_flux_even_when_count_and_value_look_the_same():
    # The handler applied +1 and -1 between the looks: equal values, different version (no ABA).
    verdict, correction = confirm(look(number(9, version=3), 7), look(number(9, version=5), 7))
    assert verdict is Recheck.IN_FLUX
    assert correction is None


def test_a_changed_count_is_in_flux():
    assert confirm(look(number(9), 7), look(number(9), 8))[0] is Recheck.IN_FLUX


def test_a_changed_stored_value_is_in_flux():
    assert confirm(look(number(9), 7), look(number(8), 7))[0] is Recheck.IN_FLUX


def test_an_in_flight_record_applied_before_the_recheck_is_in_flux():
    # First look: attendee written, not yet applied (stored 4, counted 5). The handler applies
    # it during the settle window (stored 5, version + 1): that is not drift.
    first = look(number(4, version=10), 5)
    second = look(number(5, version=11), 5)
    assert confirm(first, second) == (Recheck.IN_FLUX, None)


def test_an_event_that_vanished_before_the_recheck_is_in_flux():
    assert confirm(look(number(9), 7), look(None, 0))[0] is Recheck.IN_FLUX


def test_a_counter_fixed_by_someone_else_meanwhile_is_in_flux():
    assert confirm(look(number(9, version=1), 7), look(number(7, version=2), 7))[0] is (
        Recheck.IN_FLUX
    )


def test_missing_counter_confirmed_becomes_an_initialization():
    verdict, correction = confirm(look(MISSING, 4), look(MISSING, 4))
    assert verdict is Recheck.CONFIRMED
    assert correction is not None
    assert correction.reason is Reason.MISSING
    assert correction.delta == 4


def test_invalid_counter_confirmed_keeps_its_raw_value_and_has_no_delta():
    verdict, correction = confirm(look(INVALID, 4), look(INVALID, 4))
    assert verdict is Recheck.CONFIRMED
    assert correction is not None
    assert correction.reason is Reason.INVALID
    assert correction.stored.raw == '{"S":"ten"}'
    assert correction.delta is None


def test_comparing_looks_at_two_different_events_is_a_programming_error():
    other = Observation(EventKey("FAD", "x#1#y"), number(1), 1, 0.0)
    with pytest.raises(ValueError, match="same event"):
        confirm(look(number(1), 2), other)


def test_recheck_is_due_a_settle_window_after_the_first_look():
    assert recheck_due(look(number(1), 2, at=50.0), 120.0) == 170.0


# -- brake and plan ----------------------------------------------------------------------------


def test_brake_stays_off_within_both_limits():
    assert brake(2, 100, POLICY).tripped is False


def test_brake_trips_on_the_absolute_count():
    decision = brake(11, 1000, POLICY)
    assert decision.tripped is True
    assert decision.reason is not None
    assert "--max-corrections 10" in decision.reason


def test_brake_allows_exactly_the_absolute_limit():
    assert brake(10, 1000, POLICY).tripped is False


def test_brake_trips_on_the_ratio():
    decision = brake(3, 4, POLICY)
    assert decision.tripped is True
    assert decision.reason is not None
    assert "--max-correction-ratio 0.5" in decision.reason


def test_ratio_is_ignored_below_the_minimum_number_of_events():
    # One event checked with --event, one correction: 100 % but not systematic.
    assert brake(1, 1, POLICY).tripped is False
    assert brake(3, 3, POLICY).tripped is False


def test_force_overrides_the_brake_but_says_so():
    decision = brake(50, 60, BrakePolicy(10, 0.5, 4, force=True))
    assert decision.tripped is False
    assert decision.overridden is True
    assert decision.reason is not None


def test_plan_applies_every_confirmed_correction_when_nothing_holds_it():
    plan = plan_corrections(3, 100, POLICY, WriteMode())
    assert plan.hold is None
    assert plan.outcome is CorrectionOutcome.APPLIED
    assert plan.brake.tripped is False


def test_tripped_brake_holds_every_correction():
    plan = plan_corrections(11, 1000, POLICY, WriteMode())
    assert plan.hold is Hold.BRAKED
    assert plan.outcome is CorrectionOutcome.BRAKED
    assert plan.brake.tripped is True


def test_forced_plan_applies_past_the_brake():
    forced = BrakePolicy(10, 0.5, 4, force=True)
    plan = plan_corrections(11, 1000, forced, WriteMode())
    assert plan.hold is None
    assert plan.brake.overridden is True


def test_dry_run_holds_everything_and_still_reports_the_brake():
    plan = plan_corrections(11, 1000, POLICY, WriteMode(dry_run=True))
    assert plan.hold is Hold.DRY_RUN
    assert plan.outcome is CorrectionOutcome.DRY_RUN
    assert plan.brake.tripped is True


def test_paused_corrections_are_planned_not_written():
    plan = plan_corrections(1, 100, POLICY, WriteMode(paused=True))
    assert plan.hold is Hold.PAUSED
    assert plan.outcome is CorrectionOutcome.PAUSED


def test_dry_run_wins_over_pause_as_the_reason_shown():
    plan = plan_corrections(1, 100, POLICY, WriteMode(dry_run=True, paused=True))
    assert plan.hold is Hold.DRY_RUN


def test_pause_wins_over_a_tripped_brake_as_the_reason_shown():
    plan = plan_corrections(11, 1000, POLICY, WriteMode(paused=True))
    assert plan.brake.tripped is True
    assert plan.hold is Hold.PAUSED


def test_an_empty_plan_never_trips_the_brake():
    plan = plan_corrections(0, 0, POLICY, WriteMode())
    assert plan.brake.tripped is False
    assert plan.hold is None


@pytest.mark.parametrize("hold", list(Hold))
def test_every_hold_is_reported_under_the_outcome_of_the_same_name(hold: Hold):
    assert hold.outcome.value == hold.value
    assert hold.outcome.held is True


def test_only_holds_are_held_outcomes():
    held = {outcome for outcome in CorrectionOutcome if outcome.held}
    assert held == {hold.outcome for hold in Hold}
    assert held.isdisjoint(
        {CorrectionOutcome.APPLIED, CorrectionOutcome.CONFLICT, CorrectionOutcome.IN_FLUX}
    )


# -- drift direction ---------------------------------------------------------------------------


def test_drift_direction_says_over_or_under_and_by_how_many():
    over = drift_direction(number(12), 10)
    under = drift_direction(number(7), 10)
    assert over is not None
    assert (over.over, over.magnitude) == (True, 2)
    assert under is not None
    assert (under.over, under.magnitude) == (False, 3)


@pytest.mark.parametrize("stored", [number(10), MISSING, INVALID])
def test_drift_direction_only_describes_numeric_drift(stored: StoredCounter):
    assert drift_direction(stored, 10) is None


# -- shards ------------------------------------------------------------------------------------


def test_shard_of_is_stable_across_processes_and_versions():
    # Pinned values: a SHA-256 of the slug, not hash(), so every worker of a job agrees.
    assert [shard_of(s, 4) for s in ("tech", "workshop", "workshop-ai")] == [1, 0, 1]
    assert shard_of("tech-summit-2024", 1000) == 928


def test_every_slug_lands_in_exactly_one_shard():
    slugs = [f"event-{i}" for i in range(500)]
    shards = [Shard(i, 7) for i in range(7)]
    owners = [[s for s in shards if in_shard(slug, s)] for slug in slugs]
    assert all(len(owner) == 1 for owner in owners)
    # And the split is not degenerate.
    assert len({owner[0].index for owner in owners}) == 7


def test_no_shard_means_every_slug():
    assert in_shard("anything", None) is True
