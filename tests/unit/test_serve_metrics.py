"""ReconcilerMetrics turns a PassSummary into the metric names alert rules depend on."""

from __future__ import annotations

import pytest
from prometheus_client import CollectorRegistry

from reconciler.reconcile.core import (
    BrakeDecision,
    BrakePolicy,
    Hold,
    WriteMode,
    plan_corrections,
)
from reconciler.reconcile.summary import AwsErrorKey, IoStats, PassSummary
from reconciler.serve.metrics import (
    CORRECTION_OUTCOMES,
    Outcome,
    ReconcilerMetrics,
    SkipReason,
    bounded_error,
)

TRIPPED = BrakeDecision(tripped=True, reason="too many")


@pytest.fixture
def registry() -> CollectorRegistry:
    return CollectorRegistry()


@pytest.fixture
def metrics(registry: CollectorRegistry) -> ReconcilerMetrics:
    return ReconcilerMetrics(registry, version="9.9.9")


def value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def observe(
    metrics: ReconcilerMetrics,
    summary: PassSummary,
    outcome: Outcome = Outcome.SUCCESS,
    *,
    finished_at: float = 1000.0,
    failures: int = 0,
    drift_streak: int = 0,
) -> None:
    metrics.observe_pass(
        summary,
        2.0,
        finished_at=finished_at,
        outcome=outcome,
        consecutive_failures=failures,
        drift_streak=drift_streak,
    )


def test_every_labelled_child_exists_at_zero_before_the_first_pass(registry, metrics):
    for outcome in ("success", "failure", "brake"):
        assert value(registry, "reconciler_runs_total", outcome=outcome) == 0
    for direction in ("over", "under"):
        assert value(registry, "reconciler_drift_detected_total", direction=direction) == 0
        assert value(registry, "reconciler_drift_attendees_total", direction=direction) == 0
    for outcome in ("applied", "conflict", "in_flux", "dry_run", "braked"):
        assert value(registry, "reconciler_corrections_total", outcome=outcome) == 0
    assert value(registry, "reconciler_passes_skipped_total", reason="not_leader") == 0
    assert value(registry, "reconciler_last_success_timestamp_seconds") == 0
    assert value(registry, "reconciler_build_info", version="9.9.9") == 1


def test_a_successful_pass_moves_counters_and_last_pass_gauges(registry, metrics):
    summary = PassSummary(
        run_id="r1",
        events_checked=10,
        drifted=3,
        drift_over=2,
        drift_under=1,
        drift_attendees_over=5,
        drift_attendees_under=1,
        corrected=2,
        conflicts=1,
        io=IoStats(read_units=12.5),
    )
    observe(metrics, summary, finished_at=1234.0, drift_streak=1)
    assert value(registry, "reconciler_runs_total", outcome="success") == 1
    assert value(registry, "reconciler_last_success_timestamp_seconds") == 1234.0
    assert value(registry, "reconciler_last_run_timestamp_seconds") == 1234.0
    assert value(registry, "reconciler_events_checked_total") == 10
    assert value(registry, "reconciler_drift_detected_total", direction="over") == 2
    assert value(registry, "reconciler_drift_detected_total", direction="under") == 1
    assert value(registry, "reconciler_drift_attendees_total", direction="over") == 5
    assert value(registry, "reconciler_corrections_total", outcome="applied") == 2
    assert value(registry, "reconciler_corrections_total", outcome="conflict") == 1
    assert value(registry, "reconciler_events_in_drift") == 3
    assert value(registry, "reconciler_consecutive_passes_with_drift") == 1
    assert value(registry, "reconciler_consumed_read_units_total") == 12.5
    assert value(registry, "reconciler_run_duration_seconds_count") == 1


def test_a_failed_pass_keeps_the_last_success_time_and_the_last_drift_gauge(registry, metrics):
    observe(metrics, PassSummary(run_id="ok", drifted=4), finished_at=100.0)
    observe(
        metrics,
        PassSummary(run_id="bad", events_checked=2, failed=True),
        Outcome.FAILURE,
        finished_at=200.0,
        failures=1,
    )
    assert value(registry, "reconciler_runs_total", outcome="failure") == 1
    assert value(registry, "reconciler_last_success_timestamp_seconds") == 100.0
    assert value(registry, "reconciler_last_run_timestamp_seconds") == 200.0
    assert value(registry, "reconciler_events_in_drift") == 4
    assert value(registry, "reconciler_consecutive_failures") == 1
    # the reads of the failed pass happened, so they are counted
    assert value(registry, "reconciler_events_checked_total") == 2


def test_a_braked_pass_is_not_a_success_and_reports_its_planned_corrections(registry, metrics):
    summary = PassSummary(run_id="b", drifted=50, planned=50, hold=Hold.BRAKED, brake=TRIPPED)
    observe(metrics, summary, Outcome.BRAKE)
    assert value(registry, "reconciler_runs_total", outcome="brake") == 1
    assert value(registry, "reconciler_last_success_timestamp_seconds") == 0
    assert value(registry, "reconciler_corrections_total", outcome="braked") == 50
    assert value(registry, "reconciler_brake_tripped") == 1


@pytest.mark.parametrize(
    ("mode", "label"),
    [
        (WriteMode(dry_run=True), "dry_run"),
        (WriteMode(paused=True), "paused"),
        (WriteMode(), "braked"),
    ],
)
def test_planned_corrections_are_attributed_to_the_one_reason_nothing_was_written(
    registry, metrics, mode, label
):
    # GIVEN a pass whose three confirmed corrections also tripped the brake
    plan = plan_corrections(3, 3, BrakePolicy(2, 1.0, 1), mode)
    summary = PassSummary(run_id="p", planned=3, hold=plan.hold, brake=plan.brake)
    observe(metrics, summary, Outcome.BRAKE)
    counts = {
        outcome: value(registry, "reconciler_corrections_total", outcome=outcome)
        for outcome in CORRECTION_OUTCOMES
    }
    assert {outcome: count for outcome, count in counts.items() if count} == {label: 3}


def test_aws_errors_outside_the_known_sets_are_reported_as_other(registry, metrics):
    errors = {
        AwsErrorKey("Query", "ThrottlingException"): 2,
        AwsErrorKey("Query", "SomethingNew"): 1,
        AwsErrorKey("FancyOp", "ThrottlingException"): 1,
        AwsErrorKey("garbage", ""): 1,
    }
    summary = PassSummary(run_id="e", io=IoStats(errors=errors))
    observe(metrics, summary)
    errors = "reconciler_aws_errors_total"
    assert value(registry, errors, operation="Query", code="ThrottlingException") == 2
    assert value(registry, errors, operation="Query", code="other") == 1
    assert value(registry, errors, operation="other", code="ThrottlingException") == 1
    assert value(registry, errors, operation="other", code="other") == 1


def test_an_error_key_with_an_email_in_it_never_becomes_a_label():
    assert bounded_error(AwsErrorKey("Query", "alice@example.com")) == AwsErrorKey("Query", "other")


def test_losing_leadership_clears_the_last_pass_findings(registry, metrics):
    observe(metrics, PassSummary(run_id="x", drifted=2, brake=TRIPPED), Outcome.BRAKE)
    metrics.clear_pass_gauges()
    assert value(registry, "reconciler_events_in_drift") == 0
    assert value(registry, "reconciler_brake_tripped") == 0


def test_lag_gate_error_pauses_and_is_counted(registry, metrics):
    metrics.observe_lag_gate(paused=True, error=True, iterator_age=None)
    assert value(registry, "reconciler_corrections_paused") == 1
    assert value(registry, "reconciler_lag_gate_checks_total", result="error") == 1
    assert value(registry, "reconciler_handler_iterator_age_seconds") == -1


def test_skips_are_counted_by_reason(registry, metrics):
    metrics.observe_skip(SkipReason.NOT_LEADER)
    assert value(registry, "reconciler_passes_skipped_total", reason="not_leader") == 1


def test_counters_the_handler_cannot_add_to_are_counted_by_bounded_state(registry, metrics):
    summary = PassSummary(run_id="r", invalid=2, unsupported=1)
    metrics.observe_pass(
        summary,
        1.0,
        finished_at=1.0,
        outcome=Outcome.SUCCESS,
        consecutive_failures=0,
        drift_streak=0,
    )
    states = {
        state: registry.get_sample_value("reconciler_invalid_events_total", {"state": state})
        for state in ("invalid", "unreadable_version")
    }
    assert states == {"invalid": 2.0, "unreadable_version": 1.0}


def test_passes_are_counted_by_the_sweep_they_took_and_scanned_events_by_mode(registry, metrics):
    assert value(registry, "reconciler_sweeps_total", sweep="scan") == 0
    observe(metrics, PassSummary(run_id="r1", sweep="scan", scanned_in_sync=7))
    observe(metrics, PassSummary(run_id="r2", sweep="query"))
    observe(metrics, PassSummary(run_id="r3"))  # failed before it chose: no sweep
    assert value(registry, "reconciler_sweeps_total", sweep="scan") == 1
    assert value(registry, "reconciler_sweeps_total", sweep="query") == 1
    assert value(registry, "reconciler_events_by_mode_total", mode="scan") == 7
    assert value(registry, "reconciler_sweeps_total", sweep="auto") is None
