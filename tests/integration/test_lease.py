"""The leader lease against a moto server: the lock item's conditions, and two real replicas."""

from __future__ import annotations

import datetime as dt
import itertools
import json
import signal
import time

import pytest

from reconciler.kernel.errors import ConflictError
from reconciler.kernel.model import EventKey, ItemKind, TableModel, classify
from reconciler.serve.lease import LeaderLease
from reconciler.serve.lease_store import DynamoLeaseStore, LeaseRecord
from tests.integration.serve_support import ServeProcess, seed, wait_for
from tests.integration.traffic import Table

LEASE_SECONDS = 1.5
HEARTBEAT_SECONDS = 0.25


def test_lock_item_conditions_hold_on_a_real_table(clients, table_name):
    store = DynamoLeaseStore(clients.dynamodb(), table_name, TableModel())
    store.create(LeaseRecord("a", "v1", 30.0))
    with pytest.raises(ConflictError):
        store.create(LeaseRecord("b", "w1", 30.0))
    with pytest.raises(ConflictError):
        store.replace(LeaseRecord("b", "w1", 30.0), expected_version="stale")
    store.replace(LeaseRecord("a", "v2", 30.0), expected_version="v1")
    assert store.read() == LeaseRecord("a", "v2", 30.0)
    with pytest.raises(ConflictError):
        store.delete(expected_version="v1")
    store.delete(expected_version="v2")
    assert store.read() is None


def test_lock_item_is_neither_an_event_nor_an_attendee(clients, table_name):
    model = TableModel()
    store = DynamoLeaseStore(clients.dynamodb(), table_name, model)
    store.create(LeaseRecord("a", "v1", 30.0))
    item = clients.dynamodb().get_item(TableName=table_name, Key=store.key)["Item"]
    plain = {key: next(iter(value.values())) for key, value in item.items()}
    assert classify(plain[model.pk_attr], plain[model.sk_attr], model).kind is ItemKind.OTHER
    assert plain["pk"] == model.lock_partition


def test_two_lease_objects_on_one_table_never_both_hold(clients, table_name):
    stores = [DynamoLeaseStore(clients.dynamodb(), table_name, TableModel()) for _ in range(2)]
    leases = [LeaderLease(store, f"r{i}", 5.0, 1.0) for i, store in enumerate(stores)]
    for _ in range(5):
        for lease in leases:
            lease.tick()
        assert sum(lease.is_held() for lease in leases) == 1


def _intervals(replica: ServeProcess) -> list[tuple[float, float]]:
    return [
        (record["started_at"], record["finished_at"])
        for record in replica.events("scheduled_pass_finished")
    ]


def _timestamp(record: dict[str, object]) -> float:
    return dt.datetime.fromisoformat(str(record["timestamp"])).timestamp()


@pytest.mark.slow
def test_two_replicas_never_overlap_and_a_killed_leader_hands_over_within_one_lease(
    aws, clients, table_name, tmp_path
):
    # GIVEN two replicas on one table, passes due every 200 ms, a 1.5 s lease
    seed(clients, table_name, events=3, drifted=0)
    args = [
        "--every", "200ms", "--run-at-start", "--settle-seconds", "0.05",
        "--lease-duration", f"{LEASE_SECONDS}s", "--heartbeat-interval", f"{HEARTBEAT_SECONDS}s",
        "--shutdown-timeout", "5s",
    ]  # fmt: skip
    a = ServeProcess(aws, table_name, [*args, "--owner-id", "replica-a"], tmp_path / "a.log")
    b = ServeProcess(aws, table_name, [*args, "--owner-id", "replica-b"], tmp_path / "b.log")
    try:
        a.wait_ready()
        b.wait_ready()
        leader, standby = wait_for(
            lambda: (
                (a, b)
                if a.events("lease_acquired")
                else (b, a)
                if b.events("lease_acquired")
                else None
            ),
            10,
            what="a leader",
        )
        # WHEN several passes have run
        wait_for(lambda: len(_intervals(leader)) >= 5, 15, what="five passes on the leader")
        # THEN the standby ran none
        assert _intervals(standby) == []
        # WHEN the leader is killed without any chance to release its lease
        killed_at = time.time()
        leader.signal(signal.SIGKILL)
        leader.wait(timeout=5)
        # THEN the standby takes over within one lease (plus one heartbeat of observation)
        acquired = wait_for(lambda: standby.events("lease_acquired"), 10, what="takeover")
        handover = _timestamp(acquired[0]) - killed_at
        assert handover <= LEASE_SECONDS + 2 * HEARTBEAT_SECONDS + 0.2, handover
        wait_for(lambda: len(_intervals(standby)) >= 3, 10, what="passes on the new leader")
        standby.signal(signal.SIGTERM)
        assert standby.wait(timeout=10) == 0
    finally:
        a.stop()
        b.stop()
    # AND across both replicas no two passes ever overlapped in time
    passes = sorted([*_intervals(a), *_intervals(b)])
    assert len(passes) >= 8
    for (_, first_end), (second_start, _) in itertools.pairwise(passes):
        assert second_start >= first_end
    # AND the new leader's first pass started after the old leader was gone
    assert min(start for start, _ in _intervals(standby)) >= killed_at


def test_the_stream_handler_ignores_the_lease_items_stream_records(clients, table_name):
    # GIVEN an event, and a lease acquired, renewed and released on the same table
    table = Table(clients, table_name)
    key = table.put_event(EventKey("EVENT", "lease-probe#2024-10-27#conference"), count=7)
    lease = LeaderLease(DynamoLeaseStore(clients.dynamodb(), table_name, TableModel()), "a", 5, 1)
    lease.tick()
    lease.tick()
    lease.release()
    lease_records = [
        r for r in table.records() if r["dynamodb"]["Keys"]["pk"]["S"] == "_RECONCILER"
    ]
    assert len(lease_records) == 3  # INSERT, MODIFY, REMOVE
    # WHEN the real handler receives them
    response = table.handler().handle({"Records": lease_records})
    # THEN no batch item failed and no counter moved
    assert response == {"batchItemFailures": []}
    assert table.stored(key) == 7
    emf = [json.loads(line) for line in table.emf.getvalue().splitlines() if line.strip()]
    assert sum(document.get("RecordsIgnored", 0) for document in emf) == 3
