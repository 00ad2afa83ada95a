"""The lease keeper: heartbeats on a thread, and a shutdown that never waits past its deadline.

The tables here stop answering on release, as an unreachable endpoint in retries does.
"""

from __future__ import annotations

import threading

from prometheus_client import CollectorRegistry

from reconciler.serve.app import ServeApp
from reconciler.serve.lease import LeaderLease
from reconciler.serve.lease_keeper import LeaseKeeper
from reconciler.serve.metrics import ReconcilerMetrics
from reconciler.serve.scheduler import Schedule
from reconciler.serve.settings import ServeSettings
from tests.fakes.serve import FakePassRunner, InMemoryLeaseStore

LEASE = 10.0
HEARTBEAT = 2.0


class BlockingDeleteStore(InMemoryLeaseStore):
    """A table that stops answering on release, as an unreachable endpoint in retries does."""

    def __init__(self) -> None:
        super().__init__()
        self.unblock = threading.Event()
        self.delete_started = threading.Event()

    def delete(self, expected_version: str) -> None:
        self.delete_started.set()
        self.unblock.wait(60)
        super().delete(expected_version)


def test_stopping_the_keeper_gives_up_on_a_release_that_hangs_past_its_timeout():
    # GIVEN a held lease on a table whose delete never answers
    store = BlockingDeleteStore()
    keeper = LeaseKeeper(LeaderLease(store, "a", LEASE, HEARTBEAT))
    keeper.start()
    assert keeper.lease.is_held()
    try:
        # WHEN the keeper is stopped with a short deadline (in a thread, so a hang cannot
        # hang the test run)
        result: list[bool] = []
        stopper = threading.Thread(
            target=lambda: result.append(keeper.stop(release=True, timeout=0.2))
        )
        stopper.start()
        stopper.join(timeout=20)
        # THEN it returned without waiting for the table, reporting that it gave up
        assert not stopper.is_alive()
        assert store.delete_started.is_set()
        assert result == [False]
        assert store.record is not None  # the lease is left to expire on its own
    finally:
        store.unblock.set()


def test_serve_shutdown_keeps_its_deadline_when_the_lease_release_hangs():
    # GIVEN a serving replica that leads, on a table that stops answering at shutdown
    store = BlockingDeleteStore()
    settings = ServeSettings(
        schedule=Schedule(every=3600.0), host="127.0.0.1", port=0, shutdown_timeout=0.3
    )
    app = ServeApp(
        FakePassRunner(),
        ReconcilerMetrics(CollectorRegistry()),
        settings,
        lease=LeaderLease(store, "a", LEASE, HEARTBEAT),
    )
    app.start()
    try:
        # WHEN it shuts down (no pass in progress)
        result: list[bool] = []
        stopper = threading.Thread(target=lambda: result.append(app.shutdown()))
        stopper.start()
        stopper.join(timeout=10)
        # THEN it returns well before the table answers, and reports a clean stop
        assert not stopper.is_alive()
        assert store.delete_started.is_set()
        assert result == [True]
    finally:
        store.unblock.set()
