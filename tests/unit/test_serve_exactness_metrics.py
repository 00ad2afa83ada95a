"""The exactness SLI's two counters: what a pass found exact, out of what it could judge."""

from __future__ import annotations

from prometheus_client import CollectorRegistry

from reconciler.reconcile.summary import PassSummary
from reconciler.serve.metrics import Outcome, ReconcilerMetrics

CHECKED = "reconciler_sli_events_checked_total"
EXACT = "reconciler_sli_events_exact_total"


def observed(*summaries: PassSummary) -> CollectorRegistry:
    registry = CollectorRegistry()
    metrics = ReconcilerMetrics(registry)
    for summary in summaries:
        metrics.observe_pass(
            summary,
            1.0,
            finished_at=10.0,
            outcome=Outcome.SUCCESS,
            consecutive_failures=0,
            drift_streak=0,
        )
    return registry


def test_both_series_exist_at_zero_before_the_first_pass():
    registry = observed()
    assert (registry.get_sample_value(CHECKED), registry.get_sample_value(EXACT)) == (0.0, 0.0)


def test_events_with_a_confirmed_correction_are_checked_but_not_exact():
    summary = PassSummary(
        run_id="r",
        events_checked=10,
        in_sync=6,
        drifted=2,
        drift_over=2,
        missing=1,
        invalid=1,
        confirmed=4,
        corrected=4,
    )
    registry = observed(summary)
    assert (registry.get_sample_value(CHECKED), registry.get_sample_value(EXACT)) == (10.0, 6.0)


def test_drift_the_second_look_did_not_confirm_counts_in_neither_series():
    # two suspects: one confirmed, one in flux (the handler's update was on its way)
    summary = PassSummary(
        run_id="r", events_checked=8, in_sync=6, drifted=2, drift_under=2, in_flux=1, confirmed=1
    )
    registry = observed(summary)
    assert (registry.get_sample_value(CHECKED), registry.get_sample_value(EXACT)) == (7.0, 6.0)


def test_ambiguous_and_vanished_events_count_in_neither_series():
    summary = PassSummary(run_id="r", events_checked=8, in_sync=5, ambiguous=2, vanished=1)
    registry = observed(summary)
    assert (registry.get_sample_value(CHECKED), registry.get_sample_value(EXACT)) == (5.0, 5.0)


def test_passes_add_up():
    first = PassSummary(
        run_id="a", events_checked=4, in_sync=3, drifted=1, drift_under=1, confirmed=1
    )
    second = PassSummary(run_id="b", events_checked=4, in_sync=4)
    registry = observed(first, second)
    assert (registry.get_sample_value(CHECKED), registry.get_sample_value(EXACT)) == (8.0, 7.0)
