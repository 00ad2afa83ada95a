"""The bounded concurrency every phase of a pass runs on (``reconcile/fanout.py``), and the
phases that use it: first looks, second looks and writes each run ``--concurrency`` at once."""

from __future__ import annotations

import threading

import pytest

from reconciler.reconcile.fanout import fan_out
from reconciler.reconcile.summary import StopReason
from tests.fakes.reconcile import FakeReconcileTable
from tests.unit.reconciler_support import build

BARRIER_TIMEOUT = 10.0
"""Only a safeguard: a phase run one event at a time breaks the barrier instead of hanging."""


def test_every_result_is_handed_over_in_the_calling_thread():
    caller = threading.get_ident()
    seen: list[tuple[int, int]] = []
    fan_out(
        range(50),
        lambda n: n * n,
        lambda r: seen.append((r, threading.get_ident())),
        limit=4,
        name="t",
    )
    assert sorted(r for r, _ in seen) == [n * n for n in range(50)]
    assert {thread for _, thread in seen} == {caller}


def test_work_runs_up_to_the_limit_at_once():
    barrier = threading.Barrier(4, timeout=BARRIER_TIMEOUT)
    results: list[int] = []
    fan_out(range(8), lambda n: (barrier.wait(), n)[1], results.append, limit=4, name="t")
    assert sorted(results) == list(range(8))


def test_the_input_is_read_lazily_never_far_ahead_of_the_workers():
    pulled: list[int] = []
    high_water = 0

    def items():
        for n in range(100):
            pulled.append(n)
            yield n

    def record(_: int) -> None:
        nonlocal high_water
        high_water = max(high_water, len(pulled) - done[0])
        done[0] += 1

    done = [0]
    fan_out(items(), lambda n: n, record, limit=3, name="t")
    assert len(pulled) == 100
    # Two per worker in flight, plus the one just pulled and waiting for a free slot.
    assert high_water <= 2 * 3 + 1


def test_the_first_error_stops_new_work_and_is_raised_after_the_running_work_finishes():
    started: list[int] = []
    finished: list[int] = []
    lock = threading.Lock()

    def work(n: int) -> int:
        with lock:
            started.append(n)
        if n == 3:
            raise ValueError("boom")
        return n

    with pytest.raises(ValueError, match="boom"):
        fan_out(range(1000), work, finished.append, limit=2, name="t")
    assert len(started) < 1000
    assert 3 not in finished
    assert set(finished) <= set(started)


def test_second_looks_of_suspects_run_concurrently():
    # GIVEN four drifted events and a table whose Query blocks until four arrive together
    table = FakeReconcileTable()
    for i in range(4):
        table.add_event(f"e{i}", 0, attendees=3)
    barrier = threading.Barrier(4, timeout=BARRIER_TIMEOUT)
    phase = {"recheck": False}

    def before(operation: str, _: str) -> None:
        if operation == "Query" and phase["recheck"]:
            barrier.wait()

    table.before_op = before
    reconciler, _, clock = build(table, concurrency=4)
    # The settle wait separates the phases: once the pass sleeps, the first looks are taken.
    clock.on_sleep = lambda _: phase.update(recheck=True)
    # WHEN one pass runs
    summary = reconciler.run_pass()
    # THEN the four second looks met at the barrier and all four corrections were written
    assert summary.failed is False, summary.error
    assert summary.corrected == 4


def test_corrections_are_written_concurrently():
    table = FakeReconcileTable()
    for i in range(4):
        table.add_event(f"e{i}", 0, attendees=2)
    barrier = threading.Barrier(4, timeout=BARRIER_TIMEOUT)
    table.before_op = lambda operation, _: barrier.wait() if operation == "UpdateItem" else None
    reconciler, audit, _ = build(table, concurrency=4)
    summary = reconciler.run_pass()
    assert summary.failed is False, summary.error
    assert summary.corrected == 4
    assert [r.outcome for r in audit.records].count("applied") == 4
    assert summary.stop is StopReason.NONE


def test_no_queued_item_starts_after_a_failure_even_one_already_handed_to_a_worker():
    started: list[int] = []

    def work(n: int) -> int:
        started.append(n)
        raise ValueError(n)

    with pytest.raises(ValueError, match=r"^0$"):
        fan_out(range(10), work, lambda _: None, limit=1, name="t")
    assert started == [0]


def test_an_error_returned_with_a_result_hands_the_result_over_then_stops_new_work():
    handed: list[int] = []
    started: list[int] = []

    def work(n: int) -> tuple[int, ValueError | None]:
        started.append(n)
        return n, ValueError("half done") if n == 0 else None

    with pytest.raises(ValueError, match="half done"):
        fan_out(
            range(10),
            work,
            lambda result: handed.append(result[0]),
            limit=1,
            name="t",
            error_of=lambda result: result[1],
        )
    assert handed == [0]
    assert started == [0]
