"""The backfill on in-memory fakes: one claim per attendee, the settle window, dry runs, and the
first error stopping the run."""

from __future__ import annotations

import pytest

from reconciler.kernel.errors import ReconcilerError
from reconciler.reconcile import backfill
from reconciler.reconcile.backfill import (
    CHUNK,
    Backfill,
    BackfillOptions,
    BackfillSummary,
)
from tests.fakes.backfill import FakeAttendees, FakeLedger
from tests.fakes.reconcile import FakeClock

SETTLE = 60.0
WALL = "2024-10-27T12:00:00Z"


def build(
    attendees: FakeAttendees,
    ledger: FakeLedger,
    clock: FakeClock,
    *,
    settle: float = SETTLE,
    concurrency: int = 2,
    dry_run: bool = False,
) -> Backfill:
    options = BackfillOptions(settle_seconds=settle, concurrency=concurrency, dry_run=dry_run)
    return Backfill(attendees, ledger, options, clock=clock, sleep=clock.sleep, wall=lambda: WALL)


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def ledger(clock: FakeClock) -> FakeLedger:
    return FakeLedger(clock=clock)


def test_every_attendee_gets_one_present_entry_and_every_event_is_marked_backfilled(
    clock: FakeClock, ledger: FakeLedger
) -> None:
    attendees = FakeAttendees()
    sizes = {"workshop": 3, "tech-summit": 2 * CHUNK + 7, "meetup": 1}
    expected = {slug: sorted(attendees.add(slug, n)) for slug, n in sizes.items()}

    summary = build(attendees, ledger, clock).run(sizes)

    assert {slug: ledger.present(slug) for slug in sizes} == expected
    assert ledger.backfilled == dict.fromkeys(sizes, WALL)
    assert (summary.events, summary.attendees, summary.events_completed) == (3, 2 * CHUNK + 11, 3)
    assert (summary.entries_created, summary.entries_existing) == (2 * CHUNK + 11, 0)
    assert summary.failed is False


def test_an_entry_that_exists_is_left_alone_and_counted_as_existing(
    clock: FakeClock, ledger: FakeLedger
) -> None:
    attendees = FakeAttendees()
    hashes = attendees.add("workshop", 4)
    ledger.entries[("workshop", hashes[0])] = False  # the live handler saw a removal first

    summary = build(attendees, ledger, clock).run(["workshop"])

    assert ledger.entries[("workshop", hashes[0])] is False
    assert (summary.entries_created, summary.entries_existing) == (3, 1)
    assert ledger.backfilled == {"workshop": WALL}


def test_a_second_run_creates_nothing_and_completes_every_event_again(
    clock: FakeClock, ledger: FakeLedger
) -> None:
    attendees = FakeAttendees()
    attendees.add("workshop", 5)
    build(attendees, ledger, clock).run(["workshop"])

    again = build(attendees, ledger, clock).run(["workshop"])

    assert (again.entries_created, again.entries_existing, again.events_completed) == (0, 5, 1)


def test_no_entry_is_claimed_before_the_settle_window_after_listing_has_passed(
    clock: FakeClock, ledger: FakeLedger
) -> None:
    attendees = FakeAttendees()
    attendees.add("workshop", 3)
    attendees.add("meetup", 2)
    listed_at = clock.now

    build(attendees, ledger, clock).run(["workshop", "meetup"])

    assert len(ledger.claimed_at) == 5
    assert min(ledger.claimed_at) >= listed_at + SETTLE


def test_the_settle_window_is_waited_once_for_events_listed_together_not_once_per_event(
    clock: FakeClock, ledger: FakeLedger
) -> None:
    attendees = FakeAttendees()
    slugs = [f"event-{i}" for i in range(10)]
    for slug in slugs:
        attendees.add(slug, 2)

    build(attendees, ledger, clock, concurrency=4).run(slugs)

    assert sum(clock.slept) == pytest.approx(SETTLE)
    assert len(ledger.backfilled) == 10


def test_an_event_without_attendees_is_marked_backfilled_without_waiting(
    clock: FakeClock, ledger: FakeLedger
) -> None:
    summary = build(FakeAttendees(), ledger, clock).run(["empty-event"])

    assert ledger.backfilled == {"empty-event": WALL}
    assert clock.slept == []
    assert summary.events_completed == 1


def test_a_dry_run_lists_and_counts_but_claims_and_marks_nothing(
    clock: FakeClock, ledger: FakeLedger
) -> None:
    attendees = FakeAttendees()
    attendees.add("workshop", 4)
    attendees.add("meetup", 3)

    summary = build(attendees, ledger, clock, dry_run=True).run(["workshop", "meetup"])

    assert ledger.entries == {}
    assert ledger.backfilled == {}
    assert clock.slept == []
    assert (summary.events, summary.attendees, summary.events_completed) == (2, 7, 0)
    assert summary.dry_run is True


def test_the_first_failed_claim_stops_the_run_and_leaves_its_event_unmarked(
    clock: FakeClock,
) -> None:
    ledger = FakeLedger(clock=clock, fail_after=2)
    attendees = FakeAttendees()
    attendees.add("workshop", 5)

    summary = build(attendees, ledger, clock, concurrency=1).run(["workshop"])

    assert summary.failed is True
    assert summary.error is not None
    assert summary.error.startswith("workshop: PutItem failed")
    assert ledger.backfilled == {}
    assert summary.entries_created == 2


def test_a_failed_listing_stops_the_run_before_any_later_event_is_claimed(
    clock: FakeClock, ledger: FakeLedger
) -> None:
    attendees = FakeAttendees(failing={"broken": ReconcilerError("Query throttled")})
    attendees.add("later", 2)

    summary = build(attendees, ledger, clock, concurrency=1).run(["broken", "later"])

    assert summary.failed is True
    assert summary.error == "broken: Query throttled"
    assert ledger.entries == {}
    assert ledger.backfilled == {}


def test_a_failure_to_list_the_events_themselves_fails_the_run(
    clock: FakeClock, ledger: FakeLedger
) -> None:
    def events():  # type: ignore[no-untyped-def]
        yield "workshop"
        raise ReconcilerError("Query failed with InternalServerError: boom")

    attendees = FakeAttendees()
    attendees.add("workshop", 1)

    summary = build(attendees, ledger, clock).run(events())

    assert summary.error == "Query failed with InternalServerError: boom"


def test_an_event_whose_meta_item_cannot_be_written_is_not_counted_as_completed(
    clock: FakeClock,
) -> None:
    ledger = FakeLedger(clock=clock, failing_meta=ReconcilerError("UpdateItem throttled"))
    attendees = FakeAttendees()
    attendees.add("workshop", 2)

    summary = build(attendees, ledger, clock).run(["workshop"])

    assert (summary.entries_created, summary.events_completed) == (2, 0)
    assert summary.error == "workshop: UpdateItem throttled"


def test_a_writer_that_crashes_fails_the_run_instead_of_marking_its_event(
    clock: FakeClock,
) -> None:
    ledger = FakeLedger(clock=clock, crash_after=1)
    attendees = FakeAttendees()
    attendees.add("workshop", 3)

    summary = build(attendees, ledger, clock, concurrency=1).run(["workshop"])

    assert summary.failed is True
    assert summary.error == "backfill writer crashed: KeyError"
    assert ledger.backfilled == {}


def test_the_summary_names_what_the_command_prints() -> None:
    summary = BackfillSummary(
        events=2,
        attendees=10,
        entries_created=6,
        entries_existing=4,
        events_completed=2,
        dry_run=False,
        seconds=2.0,
    )
    assert summary.to_dict() == {
        "events": 2,
        "attendees": 10,
        "entries_created": 6,
        "entries_existing": 4,
        "events_completed": 2,
        "dry_run": False,
        "seconds": 2.0,
        "entries_per_second": 5.0,
        "failed": False,
        "error": None,
    }


def test_listing_ahead_holds_only_so_many_entries_and_still_reaches_every_event(
    clock: FakeClock, ledger: FakeLedger, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(backfill, "MAX_HELD_ENTRIES", 3)
    attendees = FakeAttendees()
    slugs = [f"event-{i}" for i in range(12)]
    for slug in slugs:
        attendees.add(slug, 5)

    summary = build(attendees, ledger, clock, concurrency=4).run(slugs)

    assert (summary.events_completed, summary.entries_created) == (12, 60)
