"""Every Prometheus metric of ``reconciler serve``, owned by one class on an injected registry.

Why one class: metric names and label sets are an interface that alert rules and dashboards
depend on, so they are declared in one place, label values are clamped to the small fixed sets
of :mod:`reconciler.serve.metric_labels` (never per event, never per error message), and every
labelled child is created at zero
up front so that ``rate()``/``increase()`` see a series from the first scrape instead of
missing the first increment.
"""

from __future__ import annotations

from collections.abc import Mapping

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram, Info

from reconciler.reconcile.summary import AwsErrorKey, PassSummary
from reconciler.serve.exactness_metrics import ExactnessMetrics
from reconciler.serve.metric_labels import (
    AWS_ERROR_CODES,
    AWS_OPERATIONS,
    CHECK_MODES,
    CORRECTION_OUTCOMES,
    COUNTER_STATES,
    DRIFT_DIRECTIONS,
    KEY_DIRECTIONS,
    LAG_GATE_RESULTS,
    LEASE_TRANSITIONS,
    OTHER,
    RUN_DURATION_BUCKETS,
    SWEEPS,
    Outcome,
    SkipReason,
    bounded_code,
    bounded_error,
    bounded_operation,
)
from reconciler.serve.rotation_metrics import RotationMetrics


class ReconcilerMetrics:
    """All metrics of the worker. Construct once per registry; tests use a fresh registry."""

    def __init__(self, registry: CollectorRegistry, *, version: str = "unknown") -> None:
        self.registry = registry
        self.runs = Counter(
            "reconciler_runs",
            "Scheduled passes by outcome (success, empty, failure, brake, aborted).",
            ["outcome"],
            registry=registry,
        )
        self.run_duration = Histogram(
            "reconciler_run_duration_seconds",
            "Wall time of one pass, including the settle wait before rechecks.",
            buckets=RUN_DURATION_BUCKETS,
            registry=registry,
        )
        self.last_success = Gauge(
            "reconciler_last_success_timestamp_seconds",
            "Unix time at which the last successful pass finished (0: none yet).",
            registry=registry,
        )
        self.last_run = Gauge(
            "reconciler_last_run_timestamp_seconds",
            "Unix time at which the last pass of any outcome finished (0: none yet).",
            registry=registry,
        )
        self.events_checked = Counter(
            "reconciler_events_checked",
            "Events whose attendees were recounted.",
            registry=registry,
        )
        self.drift_detected = Counter(
            "reconciler_drift_detected",
            "Events found with a stored count above (over) or below (under) the recount.",
            ["direction"],
            registry=registry,
        )
        self.drift_attendees = Counter(
            "reconciler_drift_attendees",
            "Sum of |stored - counted| over drifted events, by direction.",
            ["direction"],
            registry=registry,
        )
        self.corrections = Counter(
            "reconciler_corrections",
            "Confirmed corrections by outcome: applied, conflict (condition failed), in_flux "
            "(changed between looks), dry_run, braked, paused (lag gate).",
            ["outcome"],
            registry=registry,
        )
        self.invalid_events = Counter(
            "reconciler_invalid_events",
            "Events whose count (invalid) or counterVersion (unreadable_version) is no integer.",
            ["state"],
            registry=registry,
        )
        self.events_by_mode = Counter(
            "reconciler_events_by_mode",
            "Events checked against their backfilled ledger (ledger), by recount (classic) or "
            "found in sync by the scan sweep alone (scan).",
            ["mode"],
            registry=registry,
        )
        self.sweeps = Counter(
            "reconciler_sweeps",
            "Passes by the sweep they took: query (two requests per event) or scan (the table "
            "read once); --sweep auto chooses one per pass.",
            ["sweep"],
            registry=registry,
        )
        self.counter_repairs = Counter(
            "reconciler_ledger_count_repairs",
            "Ledger-mode counters set to the ledger's count (also in corrections{applied}).",
            registry=registry,
        )
        self.key_repairs = Counter(
            "reconciler_key_repairs",
            "Ledger entries repaired with the counter, by direction: missing (a lost INSERT, "
            "+1), extra (a lost REMOVE, -1).",
            ["direction"],
            registry=registry,
        )
        self.keys_in_flux = Counter(
            "reconciler_keys_in_flux",
            "Suspect attendee items that changed between the two looks (not repaired).",
            registry=registry,
        )
        self.key_conflicts = Counter(
            "reconciler_key_conflicts",
            "Key repairs whose transaction was cancelled (re-checked by the next pass).",
            registry=registry,
        )
        self.key_suspects_deferred = Counter(
            "reconciler_key_suspects_deferred",
            "Key suspects beyond --max-key-suspects left to the next pass (not held).",
            registry=registry,
        )
        self.key_listings_skipped = Counter(
            "reconciler_key_listings_skipped",
            "Ledger-mode events whose keys were not listed: counter, entries and attendees agreed.",
            registry=registry,
        )
        self.events_in_drift = Gauge(
            "reconciler_events_in_drift",
            "Events found drifted by the last completed pass.",
            registry=registry,
        )
        self.ambiguous_events = Gauge(
            "reconciler_ambiguous_events",
            "Slugs with more than one event item in the last completed pass (never corrected).",
            registry=registry,
        )
        self.brake_tripped = Gauge(
            "reconciler_brake_tripped",
            "1 when the last completed pass tripped the correction brake.",
            registry=registry,
        )
        self.consumed_read_units = Counter(
            "reconciler_consumed_read_units",
            "DynamoDB read capacity units consumed by passes (ReturnConsumedCapacity).",
            registry=registry,
        )
        self.aws_errors = Counter(
            "reconciler_aws_errors",
            "AWS errors by operation and error code; unknown values are reported as 'other'.",
            ["operation", "code"],
            registry=registry,
        )
        self.leader = Gauge(
            "reconciler_leader",
            "1 while this replica holds the leader lease (always 1 without a lease).",
            registry=registry,
        )
        self.corrections_paused = Gauge(
            "reconciler_corrections_paused",
            "1 while the lag gate pauses corrections because the stream handler is behind.",
            registry=registry,
        )
        self.schedule_interval = Gauge(
            "reconciler_schedule_interval_seconds",
            "Longest gap between two scheduled passes; alert rules scale with it.",
            registry=registry,
        )
        self.consecutive_failures = Gauge(
            "reconciler_consecutive_failures",
            "Failed passes in a row since the last pass that did not fail.",
            registry=registry,
        )
        self.drift_streak = Gauge(
            "reconciler_consecutive_passes_with_drift",
            "Completed passes in a row that found drifted events (0 after a pass found none).",
            registry=registry,
        )
        self.pass_in_progress = Gauge(
            "reconciler_pass_in_progress",
            "1 while a pass is running on this replica.",
            registry=registry,
        )
        self.passes_skipped = Counter(
            "reconciler_passes_skipped",
            "Scheduled passes not started, by reason.",
            ["reason"],
            registry=registry,
        )
        self.lease_transitions = Counter(
            "reconciler_lease_transitions",
            "Leader lease acquired, lost (expired or taken over) or released by this replica.",
            ["transition"],
            registry=registry,
        )
        self.lease_errors = Counter(
            "reconciler_lease_errors",
            "Failed lease reads or writes other than lost races.",
            registry=registry,
        )
        self.iterator_age = Gauge(
            "reconciler_handler_iterator_age_seconds",
            "Stream handler IteratorAge (Maximum, last 5 minutes) read by the lag gate; "
            "-1 when unknown.",
            registry=registry,
        )
        self.lag_gate_checks = Counter(
            "reconciler_lag_gate_checks",
            "Lag gate decisions before passes: open, paused, error (CloudWatch unreadable).",
            ["result"],
            registry=registry,
        )
        self.start_time = Gauge(
            "reconciler_start_time_seconds",
            "Unix time at which this process started serving.",
            registry=registry,
        )
        self.rotation = RotationMetrics(registry)
        self.exactness = ExactnessMetrics(registry)
        self.build_info = Info("reconciler_build", "Version of the reconciler.", registry=registry)
        self.build_info.info({"version": version})
        self._initialise_children()

    def _initialise_children(self) -> None:
        for outcome in Outcome:
            self.runs.labels(outcome=outcome.value)
        for direction in DRIFT_DIRECTIONS:
            self.drift_detected.labels(direction=direction)
            self.drift_attendees.labels(direction=direction)
        for correction in CORRECTION_OUTCOMES:
            self.corrections.labels(outcome=correction)
        for direction in KEY_DIRECTIONS:
            self.key_repairs.labels(direction=direction)
        for mode in CHECK_MODES:
            self.events_by_mode.labels(mode=mode)
        for sweep in SWEEPS:
            self.sweeps.labels(sweep=sweep)
        for state in COUNTER_STATES:
            self.invalid_events.labels(state=state)
        for reason in SkipReason:
            self.passes_skipped.labels(reason=reason.value)
        for transition in LEASE_TRANSITIONS:
            self.lease_transitions.labels(transition=transition)
        for result in LAG_GATE_RESULTS:
            self.lag_gate_checks.labels(result=result)
        self.iterator_age.set(-1)

    # --- the schedule -------------------------------------------------------------------------

    def set_started(self, timestamp: float, interval_seconds: float) -> None:
        self.start_time.set(timestamp)
        self.schedule_interval.set(interval_seconds)

    def pass_started(self) -> None:
        self.pass_in_progress.set(1)

    def observe_skip(self, reason: SkipReason) -> None:
        self.passes_skipped.labels(reason=reason.value).inc()

    # --- passes -------------------------------------------------------------------------------

    def observe_pass(
        self,
        summary: PassSummary,
        duration: float,
        *,
        finished_at: float,
        outcome: Outcome,
        consecutive_failures: int,
        drift_streak: int,
    ) -> None:
        """Record one finished pass. Counters take whatever the pass measured, even a failed
        or aborted one (the reads happened); last-pass gauges only move for complete passes,
        so a crash half-way does not report "no drift"."""
        self.pass_in_progress.set(0)
        self.runs.labels(outcome=outcome.value).inc()
        self.run_duration.observe(max(duration, 0.0))
        self.last_run.set(finished_at)
        self.consecutive_failures.set(consecutive_failures)
        if outcome in (Outcome.SUCCESS, Outcome.EMPTY):
            self.last_success.set(finished_at)

        self.events_checked.inc(max(summary.events_checked, 0))
        self.consumed_read_units.inc(max(summary.consumed_read_units, 0.0))
        self.drift_detected.labels(direction="over").inc(max(summary.drift_over, 0))
        self.drift_detected.labels(direction="under").inc(max(summary.drift_under, 0))
        self.drift_attendees.labels(direction="over").inc(max(summary.drift_attendees_over, 0))
        self.drift_attendees.labels(direction="under").inc(max(summary.drift_attendees_under, 0))
        for correction, count in summary.correction_outcomes().items():
            if count > 0:
                self.corrections.labels(outcome=correction.value).inc(count)
        for state, count in zip(
            COUNTER_STATES, (summary.invalid, summary.unsupported), strict=True
        ):
            self.invalid_events.labels(state=state).inc(max(count, 0))
        self.observe_aws_errors(summary.io.errors)
        self._observe_ledger(summary)
        self.rotation.observe(summary.rotation)
        self.exactness.observe(summary)

        if outcome in (Outcome.SUCCESS, Outcome.EMPTY, Outcome.BRAKE):
            self.events_in_drift.set(max(summary.drifted, 0))
            self.ambiguous_events.set(max(summary.ambiguous, 0))
            self.brake_tripped.set(1 if summary.brake_tripped else 0)
            self.drift_streak.set(drift_streak)

    def _observe_ledger(self, summary: PassSummary) -> None:
        self.events_by_mode.labels(mode="ledger").inc(max(summary.ledger_events, 0))
        self.events_by_mode.labels(mode="classic").inc(max(summary.classic_events, 0))
        self.events_by_mode.labels(mode="scan").inc(max(summary.scanned_in_sync, 0))
        if summary.sweep in SWEEPS:
            self.sweeps.labels(sweep=summary.sweep).inc()
        self.counter_repairs.inc(max(summary.counter_repairs, 0))
        self.key_repairs.labels(direction="missing").inc(max(summary.key_repairs_missing, 0))
        self.key_repairs.labels(direction="extra").inc(max(summary.key_repairs_extra, 0))
        self.keys_in_flux.inc(max(summary.keys_in_flux, 0))
        self.key_conflicts.inc(max(summary.key_conflicts, 0))
        self.key_suspects_deferred.inc(max(summary.key_suspects_deferred, 0))
        self.key_listings_skipped.inc(max(summary.key_listings_skipped, 0))

    def clear_pass_gauges(self) -> None:
        """Forget the last pass's findings when another replica takes over: alert rules take
        the maximum across replicas, and a standby must not keep reporting stale drift."""
        for gauge in (self.events_in_drift, self.ambiguous_events, self.brake_tripped):
            gauge.set(0)
        self.rotation.clear()
        self.drift_streak.set(0)
        self.corrections_paused.set(0)

    def reset_streaks(self) -> None:
        """This replica stopped leading: its failure and drift streaks no longer describe the
        passes being run (by another replica)."""
        self.consecutive_failures.set(0)
        self.drift_streak.set(0)

    def observe_aws_errors(self, counts: Mapping[AwsErrorKey, int]) -> None:
        for key, count in counts.items():
            if count > 0:
                labels = bounded_error(key)
                self.aws_errors.labels(operation=labels.operation, code=labels.code).inc(count)

    def observe_aws_error(self, key: AwsErrorKey) -> None:
        self.observe_aws_errors({key: 1})

    # --- leader lease and lag gate ------------------------------------------------------------

    def set_leader(self, leader: bool) -> None:
        self.leader.set(1 if leader else 0)

    def observe_lease_transition(self, transition: str) -> None:
        if transition in LEASE_TRANSITIONS:
            self.lease_transitions.labels(transition=transition).inc()

    def observe_lease_error(self) -> None:
        self.lease_errors.inc()

    def observe_lag_gate(self, *, paused: bool, error: bool, iterator_age: float | None) -> None:
        self.corrections_paused.set(1 if paused else 0)
        self.iterator_age.set(-1 if iterator_age is None else iterator_age)
        result = "error" if error else ("paused" if paused else "open")
        self.lag_gate_checks.labels(result=result).inc()


__all__ = [
    "AWS_ERROR_CODES",
    "AWS_OPERATIONS",
    "CHECK_MODES",
    "CORRECTION_OUTCOMES",
    "COUNTER_STATES",
    "DRIFT_DIRECTIONS",
    "KEY_DIRECTIONS",
    "LAG_GATE_RESULTS",
    "LEASE_TRANSITIONS",
    "OTHER",
    "RUN_DURATION_BUCKETS",
    "Outcome",
    "ReconcilerMetrics",
    "SkipReason",
    "bounded_code",
    "bounded_error",
    "bounded_operation",
]
