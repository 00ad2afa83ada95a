"""PassJob: one scheduled run, with fakes for the pass, the lease and the lag gate."""

from __future__ import annotations

import threading

import pytest
from prometheus_client import CollectorRegistry

from reconciler.kernel.errors import AwsError, ThrottledError
from reconciler.reconcile.core import BrakeDecision
from reconciler.reconcile.summary import PassSummary, StopReason
from reconciler.serve.job import PassJob, Streaks, next_streaks
from reconciler.serve.lag_gate import LagDecision
from reconciler.serve.metrics import Outcome, ReconcilerMetrics
from tests.fakes.serve import FakeLagGate, FakeLeadership, FakePassRunner, ManualClock


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> ReconcilerMetrics:
    return ReconcilerMetrics(registry)


@pytest.fixture
def stop() -> threading.Event:
    return threading.Event()


def runs(registry: CollectorRegistry, outcome: str) -> float | None:
    return registry.get_sample_value("reconciler_runs_total", {"outcome": outcome})


def make_job(runner, metrics, stop, **kwargs) -> PassJob:  # type: ignore[no-untyped-def]
    return PassJob(runner, metrics, stop=stop, clock=ManualClock(), **kwargs)


def test_a_pass_that_raises_is_counted_and_the_job_does_not_raise(registry, metrics, stop):
    runner = FakePassRunner(script=[RuntimeError("bug in a pass")])
    job = make_job(runner, metrics, stop)
    job()  # WHEN the pass crashes THEN the scheduler thread sees no exception
    assert runs(registry, "failure") == 1
    assert job.consecutive_failures == 1


def test_the_next_pass_runs_normally_after_a_failure(registry, metrics, stop):
    runner = FakePassRunner(
        script=[RuntimeError("once"), PassSummary(run_id="x", events_checked=4)]
    )
    job = make_job(runner, metrics, stop)
    job()
    job()
    assert runs(registry, "failure") == 1
    assert runs(registry, "success") == 1
    assert job.consecutive_failures == 0
    assert registry.get_sample_value("reconciler_events_checked_total") == 4


def test_failed_summaries_count_up_the_failure_streak(registry, metrics, stop):
    failed = [PassSummary(run_id=str(i), failed=True, error="AwsError") for i in range(3)]
    job = make_job(FakePassRunner(script=list(failed)), metrics, stop)
    for _ in range(3):
        job()
    assert job.consecutive_failures == 3
    assert registry.get_sample_value("reconciler_consecutive_failures") == 3


@pytest.mark.parametrize(
    ("error", "labels"),
    [
        (AwsError("Query", "AccessDeniedException", "no"), ("Query", "AccessDeniedException")),
        (ThrottledError("slow down"), ("other", "Throttled")),
    ],
)
def test_an_aws_error_escaping_a_pass_is_counted_with_bounded_labels(
    registry, metrics, stop, error, labels
):
    make_job(FakePassRunner(script=[error]), metrics, stop)()
    operation, code = labels
    value = registry.get_sample_value(
        "reconciler_aws_errors_total", {"operation": operation, "code": code}
    )
    assert value == 1


def test_a_replica_without_the_lease_skips_the_pass(registry, metrics, stop):
    runner = FakePassRunner()
    job = make_job(runner, metrics, stop, leadership=FakeLeadership(held=False))
    job()
    assert runner.controls == []
    skipped = registry.get_sample_value("reconciler_passes_skipped_total", {"reason": "not_leader"})
    assert skipped == 1


def test_a_leader_that_failed_and_lost_the_lease_forgets_its_failure_streak(
    registry, metrics, stop
):
    # GIVEN a leader whose passes failed three times in a row (unready, alert firing)
    lease = FakeLeadership(held=True)
    failed = [PassSummary(run_id=f"f{i}", failed=True, error="x") for i in range(3)]
    runner = FakePassRunner(script=[*failed])
    job = make_job(runner, metrics, stop, leadership=lease)
    for _ in range(3):
        job()
    assert job.consecutive_failures == 3
    # WHEN it loses the lease and the next tick finds it a standby
    lease.held = False
    job()
    # THEN it no longer reports failures of passes it is not running
    assert job.consecutive_failures == 0
    assert registry.get_sample_value("reconciler_consecutive_failures") == 0


def test_a_drift_streak_does_not_resume_after_a_spell_as_standby(registry, metrics, stop):
    # GIVEN two passes with drift, then the lease lost for a while
    lease = FakeLeadership(held=True)
    drifted = [PassSummary(run_id=f"d{i}", drifted=1) for i in range(3)]
    runner = FakePassRunner(script=[*drifted])
    job = make_job(runner, metrics, stop, leadership=lease)
    job()
    job()
    lease.held = False
    job()
    # WHEN it leads again and its first pass finds drift
    lease.held = True
    job()
    # THEN that is one pass with drift, not three in a row
    assert registry.get_sample_value("reconciler_consecutive_passes_with_drift") == 1


def test_losing_the_lease_mid_pass_stops_before_the_next_write(registry, metrics, stop):
    # GIVEN a leader whose lease is revoked while it processes the second event
    lease = FakeLeadership(held=True)
    runner = FakePassRunner(events=5)

    def revoke(index: int) -> None:
        if index == 1:
            lease.held = False

    runner.on_event = revoke
    job = make_job(runner, metrics, stop, leadership=lease)
    # WHEN the pass runs
    job()
    # THEN only the first event was written, and the pass counts as aborted, not failed
    assert runner.writes == 1
    assert runs(registry, "aborted") == 1
    assert runs(registry, "failure") == 0
    assert job.consecutive_failures == 0


def test_shutdown_mid_pass_finishes_the_current_event_and_stops(registry, metrics, stop):
    runner = FakePassRunner(events=10)

    def shutdown_during_third(index: int) -> None:
        if index == 2:
            stop.set()

    runner.on_event = shutdown_during_third
    make_job(runner, metrics, stop)()
    assert runner.events_done == 3  # the event in progress was finished, no further event
    assert runs(registry, "aborted") == 1
    assert registry.get_sample_value("reconciler_last_success_timestamp_seconds") == 0


def test_no_pass_starts_once_shutdown_was_requested(registry, metrics, stop):
    runner = FakePassRunner()
    stop.set()
    make_job(runner, metrics, stop)()
    assert runner.controls == []


def test_lag_gate_pause_reaches_the_pass_and_the_gauge(registry, metrics, stop):
    gate = FakeLagGate(LagDecision(True, "handler_behind", 120.0, 300.0))
    runner = FakePassRunner()
    make_job(runner, metrics, stop, lag_gate=gate)()
    assert runner.controls[0].corrections_paused is True
    assert runner.writes == 0
    assert registry.get_sample_value("reconciler_corrections_paused") == 1
    assert registry.get_sample_value("reconciler_handler_iterator_age_seconds") == 300.0


def test_lag_gate_error_pauses_and_counts_a_cloudwatch_error(registry, metrics, stop):
    gate = FakeLagGate(LagDecision(True, "cloudwatch_error", 120.0, None, "AccessDeniedException"))
    runner = FakePassRunner()
    make_job(runner, metrics, stop, lag_gate=gate)()
    assert runner.controls[0].corrections_paused is True
    value = registry.get_sample_value(
        "reconciler_aws_errors_total",
        {"operation": "GetMetricStatistics", "code": "AccessDeniedException"},
    )
    assert value == 1


def test_an_open_gate_lets_corrections_through(registry, metrics, stop):
    runner = FakePassRunner()
    make_job(runner, metrics, stop, lag_gate=FakeLagGate())()
    assert runner.controls[0].corrections_paused is False
    assert registry.get_sample_value("reconciler_corrections_paused") == 0


def test_each_pass_gets_its_own_run_id(metrics, stop):
    runner = FakePassRunner()
    job = make_job(runner, metrics, stop)
    job()
    job()
    assert len(set(runner.run_ids)) == 2
    assert all(run_id for run_id in runner.run_ids)


def test_a_brake_outranks_success_and_a_lost_lease_outranks_failure():
    braked = PassSummary(run_id="b", brake=BrakeDecision(tripped=True))
    assert braked.outcome is Outcome.BRAKE
    lost = PassSummary(run_id="l", failed=True, stop=StopReason.LEASE_LOST)
    assert lost.outcome is Outcome.ABORTED


def test_drift_streak_counts_complete_passes_with_drift_and_ignores_aborted_ones():
    drifted = PassSummary(run_id="d", drifted=2)
    streaks = next_streaks(Streaks(), Outcome.SUCCESS, drifted)
    streaks = next_streaks(streaks, Outcome.SUCCESS, drifted)
    streaks = next_streaks(streaks, Outcome.ABORTED, PassSummary(run_id="a"))
    assert streaks.drift == 2
    assert next_streaks(streaks, Outcome.SUCCESS, PassSummary(run_id="c")).drift == 0
