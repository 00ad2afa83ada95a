"""LeaderLease state machine on an in-memory lock item and hand-driven monotonic clocks.

Each replica gets its own ManualClock: the lease must work without the clocks agreeing.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable

import pytest

from reconciler.kernel.errors import LeaseLostError, ReconcilerError
from reconciler.serve.lease import LeaderLease
from reconciler.serve.lease_store import LeaseRecord
from tests.fakes.serve import InMemoryLeaseStore, ManualClock

LEASE = 10.0
HEARTBEAT = 2.0


class Replica:
    def __init__(self, store: InMemoryLeaseStore, owner: str, clock_start: float) -> None:
        self.clock = ManualClock(clock_start)
        self.transitions: list[str] = []
        counter = itertools.count()
        self.lease = LeaderLease(
            store,
            owner,
            LEASE,
            HEARTBEAT,
            monotonic=self.clock,
            versions=lambda: f"{owner}-v{next(counter)}",
            on_transition=self.transitions.append,
        )


@pytest.fixture
def store() -> InMemoryLeaseStore:
    return InMemoryLeaseStore()


def test_the_first_replica_acquires_a_free_lease_at_once(store):
    a = Replica(store, "a", clock_start=5.0)
    a.lease.tick()
    assert a.lease.is_held()
    assert a.transitions == ["acquired"]
    assert store.record is not None
    assert store.record.owner == "a"


def test_every_heartbeat_writes_a_new_record_version(store):
    a = Replica(store, "a", 0.0)
    a.lease.tick()
    versions = set()
    for _ in range(3):
        a.clock.advance(HEARTBEAT)
        a.lease.tick()
        assert store.record is not None
        versions.add(store.record.version)
    assert len(versions) == 3
    assert a.transitions == ["acquired"]


def test_a_live_leader_is_never_taken_over_however_far_the_clocks_disagree(store):
    # GIVEN a leader and a challenger whose clocks are a million seconds apart
    a = Replica(store, "a", 0.0)
    b = Replica(store, "b", 1_000_000.0)
    a.lease.tick()
    # WHEN both tick for several lease durations, the leader heartbeating on time
    for _ in range(30):
        a.clock.advance(HEARTBEAT)
        b.clock.advance(HEARTBEAT)
        a.lease.tick()
        b.lease.tick()
    # THEN the challenger never got it
    assert a.lease.is_held()
    assert not b.lease.is_held()
    assert b.transitions == []


def test_a_dead_leaders_lease_is_taken_only_after_a_full_lease_of_unchanged_version(store):
    a = Replica(store, "a", 0.0)
    b = Replica(store, "b", 42.0)
    a.lease.tick()
    # the leader dies (stops ticking); the challenger first sees its last version now
    b.lease.tick()
    b.clock.advance(LEASE - 0.5)
    b.lease.tick()
    assert not b.lease.is_held()
    b.clock.advance(0.5)
    b.lease.tick()
    assert b.lease.is_held()
    assert store.record is not None
    assert store.record.owner == "b"


def test_the_wait_for_a_stale_lease_restarts_when_the_version_changes(store):
    a = Replica(store, "a", 0.0)
    b = Replica(store, "b", 0.0)
    a.lease.tick()
    b.lease.tick()  # observes version v0
    b.clock.advance(LEASE - 1)
    a.clock.advance(LEASE - 1)
    a.lease.tick()  # late heartbeat, but within the lease
    b.clock.advance(1.0)
    b.lease.tick()  # a full lease since v0 was first seen, but the version moved on
    assert not b.lease.is_held()


class RacingStore(InMemoryLeaseStore):
    """Runs ``before_next_replace`` just before the next replace lands: another replica's
    write slipping in between a read and a conditional write."""

    before_next_replace: Callable[[], object] | None = None

    def replace(self, record: LeaseRecord, expected_version: str) -> None:
        hook, self.before_next_replace = self.before_next_replace, None
        if hook is not None:
            hook()
        super().replace(record, expected_version)


def test_a_challenger_that_loses_the_takeover_race_watches_the_winners_version_afresh():
    # GIVEN a dead leader, and two challengers that both watched its version for a full lease
    store = RacingStore()
    a = Replica(store, "a", 0.0)
    b = Replica(store, "b", 0.0)
    c = Replica(store, "c", 0.0)
    a.lease.tick()
    b.lease.tick()
    c.lease.tick()
    b.clock.advance(LEASE)
    c.clock.advance(LEASE)
    # WHEN one takes the lease over between the other's read and its conditional write
    store.before_next_replace = b.lease.tick
    assert c.lease.tick() == HEARTBEAT
    # THEN only the first holds it
    assert b.lease.is_held()
    assert not c.lease.is_held()
    assert c.transitions == []
    assert store.record is not None
    assert store.record.owner == "b"
    # AND the other waits a full lease of the winner's version before it could try again
    assert c.lease.tick() == HEARTBEAT
    c.clock.advance(LEASE - 0.5)
    assert c.lease.tick() == pytest.approx(0.5)
    assert not c.lease.is_held()


def test_tick_asks_to_be_called_again_exactly_when_the_observed_lease_would_expire(store):
    a = Replica(store, "a", 0.0)
    b = Replica(store, "b", 0.0)
    a.lease.tick()
    b.lease.tick()
    b.clock.advance(9.5)
    assert b.lease.tick() == pytest.approx(0.5)


def test_the_holder_stops_trusting_its_lease_before_anyone_could_take_it(store):
    # GIVEN a leader whose renewals all fail (a network partition)
    a = Replica(store, "a", 0.0)
    a.lease.tick()
    store.fail_next.extend(ReconcilerError("unreachable") for _ in range(10))
    # WHEN 90% of a lease has passed since its last successful renewal was sent
    a.clock.advance(LEASE * 0.9)
    # THEN it no longer holds it, and a write would be refused
    assert not a.lease.is_held()
    with pytest.raises(LeaseLostError):
        a.lease.ensure_held()


def test_a_leader_that_was_taken_over_learns_it_at_its_next_heartbeat(store):
    a = Replica(store, "a", 0.0)
    a.lease.tick()
    # someone else overwrote the item (an operator, or a takeover during a long pause)
    store.record = LeaseRecord("b", "b-v0", LEASE)
    a.clock.advance(HEARTBEAT)
    a.lease.tick()
    assert not a.lease.is_held()
    assert a.transitions == ["acquired", "lost"]
    assert a.lease.holder == "b"  # what its status page names


def test_a_renewal_whose_response_was_lost_is_adopted_not_reported_as_lost(store):
    a = Replica(store, "a", 0.0)
    a.lease.tick()
    store.lose_response_of_next_write = True
    a.clock.advance(HEARTBEAT)
    a.lease.tick()  # the write landed, but a thinks it failed
    a.clock.advance(HEARTBEAT)
    a.lease.tick()  # condition on the old version fails; the record is a's own: adopt
    assert a.lease.is_held()
    assert a.transitions == ["acquired"]


def test_release_deletes_the_item_so_a_successor_acquires_without_waiting(store):
    a = Replica(store, "a", 0.0)
    b = Replica(store, "b", 0.0)
    a.lease.tick()
    b.lease.tick()
    a.lease.release()
    assert store.record is None
    b.clock.advance(HEARTBEAT)
    b.lease.tick()
    assert b.lease.is_held()
    assert a.transitions == ["acquired", "released"]


def test_two_challengers_racing_for_a_free_lease_yield_one_leader(store):
    a = Replica(store, "a", 0.0)
    b = Replica(store, "b", 0.0)
    a.lease.tick()
    b.lease.tick()
    assert [a.lease.is_held(), b.lease.is_held()].count(True) == 1


def test_an_unreadable_table_is_a_lease_error_not_a_crash(store):
    errors: list[int] = []
    a = LeaderLease(
        store, "a", LEASE, HEARTBEAT, monotonic=ManualClock(), on_error=lambda: errors.append(1)
    )
    store.fail_next.append(ReconcilerError("throttled"))
    assert a.tick() == HEARTBEAT
    assert errors == [1]
    assert not a.is_held()


def test_heartbeat_must_be_shorter_than_the_lease(store):
    with pytest.raises(ValueError, match="heartbeat"):
        LeaderLease(store, "a", 1.0, 1.0)


def test_a_replica_wrongly_given_the_same_owner_id_does_not_adopt_the_lease(store):
    # GIVEN two processes configured with the same --owner-id
    a = Replica(store, "same", 0.0)
    twin = LeaderLease(
        store, "same", LEASE, HEARTBEAT, monotonic=ManualClock(0.0), versions=lambda: "twin-v"
    )
    a.lease.tick()
    # WHEN the twin looks at the lease the other one keeps renewing
    for _ in range(10):
        a.clock.advance(HEARTBEAT)
        a.lease.tick()
        twin.tick()
    # THEN it waits like any challenger instead of taking the record as its own
    assert a.lease.is_held()
    assert not twin.is_held()


def test_a_lease_whose_acquire_response_was_lost_is_adopted_at_the_next_tick(store):
    a = Replica(store, "a", 0.0)
    store.lose_response_of_next_write = True
    a.lease.tick()  # the create landed, but a saw an error
    assert not a.lease.is_held()
    a.clock.advance(HEARTBEAT)
    a.lease.tick()
    assert a.lease.is_held()


class SlowStore(InMemoryLeaseStore):
    """Each write takes ``delay`` seconds of the replica's clock, as a throttled table does."""

    def __init__(self, clock: ManualClock, delay: float) -> None:
        super().__init__()
        self.clock = clock
        self.delay = delay

    def replace(self, record: LeaseRecord, expected_version: str) -> None:
        self.clock.advance(self.delay)
        super().replace(record, expected_version)


def test_a_slow_renewal_does_not_delay_the_next_heartbeat_by_its_own_duration():
    # GIVEN a leader whose renewals take 1.5 s of a 2 s heartbeat
    clock = ManualClock(0.0)
    store = SlowStore(clock, delay=1.5)
    lease = LeaderLease(store, "a", LEASE, HEARTBEAT, monotonic=clock)
    lease.tick()
    # WHEN it renews
    delay = lease.tick()
    # THEN the next renewal is due a heartbeat after this one was sent, not after it returned
    assert delay == pytest.approx(HEARTBEAT - 1.5)


def test_the_holder_is_the_owner_last_seen_holding_the_lease(store):
    a = Replica(store, "a", 0.0)
    b = Replica(store, "b", 0.0)
    assert b.lease.holder is None  # not looked yet
    a.lease.tick()
    b.lease.tick()
    assert (a.lease.holder, b.lease.holder) == ("a", "a")
    a.lease.release()
    b.clock.advance(HEARTBEAT)
    b.lease.tick()
    assert (a.lease.holder, b.lease.holder) == (None, "b")
