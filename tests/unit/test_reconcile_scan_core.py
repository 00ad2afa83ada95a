"""The scan sweep's pure side: folding scanned items into counts per event, and ``auto``."""

from __future__ import annotations

import pytest

from reconciler.kernel.model import EventKey
from reconciler.reconcile.core import CounterKind, StoredCounter
from reconciler.reconcile.scan_core import (
    SCAN_MAX_MEAN_ATTENDEES,
    SCAN_MIN_EVENTS,
    ScannedAttendee,
    ScannedEventItem,
    ScanTally,
    SweepMode,
    TableShape,
    choose_by_shape,
    events_needed,
    forced_query,
    scanned_events,
)


def counter(value: int, version: int = 3) -> StoredCounter:
    return StoredCounter(CounterKind.NUMBER, value=value, raw=f'{{"N":"{value}"}}', version=version)


def event(slug: str, value: int, partition: str = "EVENT") -> ScannedEventItem:
    return ScannedEventItem(EventKey(partition, f"{slug}#2024-10-27#talk"), counter(value))


def attendees(slug: str, n: int) -> list[ScannedAttendee]:
    return [ScannedAttendee(slug)] * n


def test_segments_folded_apart_and_merged_count_every_attendee_once_per_event():
    one, two = ScanTally(), ScanTally()
    one.fold([event("tech", 3), *attendees("tech", 2), *attendees("ai", 1)])
    two.fold([*attendees("tech", 1), event("ai", 5), *attendees("ai", 1)])
    one.merge(two)
    found = {e.slug: (e.counted, e.items[0].stored.value, e.in_sync) for e in scanned_events(one)}
    assert found == {"ai": (2, 5, False), "tech": (3, 3, True)}
    assert one.items == 7


def test_attendee_slugs_without_an_event_item_are_left_out():
    tally = ScanTally()
    tally.fold([*attendees("orphan", 4), event("tech", 0)])
    assert [e.slug for e in scanned_events(tally)] == ["tech"]


def test_an_event_with_no_attendee_item_counts_zero():
    tally = ScanTally()
    tally.fold([event("empty", 0), event("stale", 2)])
    assert {e.slug: e.in_sync for e in scanned_events(tally)} == {"empty": True, "stale": False}


def test_a_slug_with_event_items_in_both_partitions_is_ambiguous_and_never_in_sync():
    tally = ScanTally()
    tally.fold([event("dup", 1, "FAD"), event("dup", 1, "EVENT"), *attendees("dup", 1)])
    (dup,) = scanned_events(tally)
    assert dup.ambiguous
    assert not dup.in_sync
    assert [k.partition for k in dup.keys] == ["EVENT", "FAD"]


def test_memory_holds_counts_per_slug_never_attendee_items():
    tally = ScanTally()
    tally.fold(attendees("big", 10_000))
    assert dict(tally.attendees) == {"big": 10_000}


@pytest.mark.parametrize(
    ("stored", "in_sync"),
    [
        (StoredCounter(CounterKind.MISSING, version=1), False),
        (StoredCounter(CounterKind.INVALID, raw='{"S":"2"}', version=1), False),
        (
            StoredCounter(CounterKind.NUMBER, value=2, raw='{"N":"2"}', version_unreadable=True),
            False,
        ),
        (counter(2), True),
    ],
)
def test_only_a_readable_counter_equal_to_the_count_is_in_sync(stored, in_sync):
    tally = ScanTally()
    tally.fold([ScannedEventItem(EventKey("EVENT", "x#1"), stored), *attendees("x", 2)])
    (found,) = scanned_events(tally)
    assert found.in_sync is in_sync


def test_event_or_shard_always_take_the_query_sweep_whatever_was_asked():
    for mode in SweepMode:
        for event, shard in ((True, False), (False, True)):
            choice = forced_query(mode, event=event, shard=shard)
            assert choice is not None
            assert choice.mode is SweepMode.QUERY


def test_query_and_scan_are_taken_as_asked_and_auto_looks_at_the_table():
    assert forced_query(SweepMode.SCAN, event=False, shard=False).mode is SweepMode.SCAN  # type: ignore[union-attr]
    assert forced_query(SweepMode.QUERY, event=False, shard=False).mode is SweepMode.QUERY  # type: ignore[union-attr]
    assert forced_query(SweepMode.AUTO, event=False, shard=False) is None


def test_auto_scans_many_small_events():
    choice = choose_by_shape(TableShape(item_count=80_000, size_bytes=8_000_000, events=20_000))
    assert choice.mode is SweepMode.SCAN
    assert choice.shape is not None
    assert choice.shape.mean_attendees == 3.0


def test_auto_queries_few_events_however_small():
    choice = choose_by_shape(TableShape(item_count=4_000, size_bytes=1, events=SCAN_MIN_EVENTS - 1))
    assert choice.mode is SweepMode.QUERY


def test_auto_queries_big_events():
    events = 2_000
    items = events + int(events * (SCAN_MAX_MEAN_ATTENDEES + 1))
    choice = choose_by_shape(TableShape(item_count=items, size_bytes=1, events=events))
    assert choice.mode is SweepMode.QUERY


def test_counting_events_up_to_what_auto_needs_gives_the_same_answer_as_counting_all():
    for item_count, events in ((80_000, 20_000), (10_000_000, 50_000), (500_000, 1_500)):
        capped = min(events, events_needed(item_count))
        full = choose_by_shape(TableShape(item_count, 0, events)).mode
        assert choose_by_shape(TableShape(item_count, 0, capped)).mode is full


def test_a_stale_item_count_below_the_events_never_makes_a_negative_mean():
    shape = TableShape(item_count=10, size_bytes=0, events=1_000)
    assert shape.attendee_items == 0
    assert choose_by_shape(shape).mode is SweepMode.SCAN
