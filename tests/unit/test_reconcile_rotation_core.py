"""The rotating sweep's pure decisions: what a counter's fingerprint says, the period's quota,
the cycle's boundaries and the age bound reported from them."""

from __future__ import annotations

import pytest

from reconciler.reconcile.core import CounterKind, StoredCounter
from reconciler.reconcile.rotation_core import (
    Cycle,
    Priority,
    advance,
    fingerprint,
    oldest_verification_age,
    priority,
    quota,
    record_key,
    resume_key,
)


def number(value: int, version: int | None = 3) -> StoredCounter:
    return StoredCounter(CounterKind.NUMBER, value, str(value), version)


def test_an_unchanged_counter_waits_for_its_turn():
    assert priority(number(5), fingerprint(number(5))) is Priority.ROTATION


def test_a_counter_the_handler_moved_is_recounted_now():
    assert priority(number(6, version=4), fingerprint(number(5))) is Priority.CHANGED


def test_a_hand_edit_that_kept_the_version_is_recounted_now():
    assert priority(number(25, version=3), fingerprint(number(5, version=3))) is Priority.CHANGED


@pytest.mark.parametrize(
    "stored",
    [None, StoredCounter(CounterKind.MISSING), StoredCounter(CounterKind.INVALID, raw='"x"')],
)
def test_missing_invalid_or_vanished_counters_are_recounted_now(stored: StoredCounter | None):
    assert priority(stored, None) is Priority.CHANGED


def test_a_never_verified_event_waits_for_its_turn_so_adoption_respects_the_budget():
    assert priority(number(5), None) is Priority.ROTATION


def test_an_unreadable_version_is_part_of_the_fingerprint():
    one = StoredCounter(CounterKind.NUMBER, 5, "5", None, True, '{"S":"v1"}')
    two = StoredCounter(CounterKind.NUMBER, 5, "5", None, True, '{"S":"v2"}')
    assert fingerprint(one) != fingerprint(two)


@pytest.mark.parametrize(
    ("earlier", "later"),
    [("a", "a-b"), ("a", "a0"), ("ab", "b"), ("tech", "tech-summit"), ("a", "ab")],
)
def test_sort_key_bounds_follow_the_listing_order_of_slugs(earlier: str, later: str):
    # Every sort key of ``earlier`` is below its resume key, every one of ``later`` above it.
    assert f"{earlier}#2024-10-27#x" < resume_key(earlier) <= f"{later}#2024-10-27#x"
    assert record_key(earlier) < resume_key(earlier) <= record_key(later)


def test_no_quota_before_the_first_pass_has_counted_the_events():
    assert quota(Cycle(), 86400.0, now=1000.0) is None
    assert quota(Cycle(events=100, last_pass_at=0.0), None, now=1000.0) is None


def test_each_pass_owes_its_share_of_the_period_with_slack():
    cycle = Cycle(events=1000, last_pass_at=0.0)
    assert quota(cycle, 86400.0, now=3600.0) == 46  # 1000 / 24 * 1.1, rounded up
    assert quota(cycle, 3600.0, now=7200.0) == 1100  # a late pass owes no more than everything


def test_a_wrap_starts_a_new_cycle_and_dates_the_oldest_verification():
    first = advance(Cycle(), cursor="m", wrapped=False, rotated=5, events=10, now=100.0)
    assert (first.started_at, first.previous_started_at, first.done) == (100.0, None, 5)
    assert first.revision == 1
    assert oldest_verification_age(first, now=150.0) is None
    second = advance(first, cursor="c", wrapped=True, rotated=3, events=10, now=200.0)
    assert (second.started_at, second.previous_started_at, second.done) == (200.0, 100.0, 3)
    # The first event not reached yet was recounted 3/10 of the way through the last cycle.
    assert oldest_verification_age(second, now=250.0) == 250.0 - (100.0 + 0.3 * 100.0)


def test_a_full_pass_dates_every_verification_at_that_pass():
    full = advance(Cycle(), cursor=None, wrapped=True, rotated=0, events=10, now=100.0)
    assert oldest_verification_age(full, now=160.0) == 60.0
