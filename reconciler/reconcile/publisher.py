"""Publishes each reconciliation pass's summary to CloudWatch, for the reconciler's alarms.

Prometheus scrapes ``serve`` inside the VPC; CloudWatch alarms cannot see that. One
``PutMetricData`` call per pass (a few datapoints, no dimensions) gives the alarms in
``alarms.spec`` something to watch for the price of one request per pass. The metric names
below are the contract with those alarms.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.aws import aws_call
from reconciler.reconcile.core import CorrectionOutcome
from reconciler.reconcile.summary import PassSummary

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDatumTypeDef

Unit = Literal["Count", "Seconds", "None"]

OUTCOME_METRICS = {
    CorrectionOutcome.APPLIED: spec.METRIC_CORRECTED,
    CorrectionOutcome.CONFLICT: spec.METRIC_CONFLICTS,
    CorrectionOutcome.IN_FLUX: spec.METRIC_IN_FLUX,
    CorrectionOutcome.DRY_RUN: spec.METRIC_PLANNED,
    CorrectionOutcome.PAUSED: spec.METRIC_PLANNED,
    CorrectionOutcome.BRAKED: spec.METRIC_PLANNED,
}
"""The CloudWatch metric each correction outcome is summed into: names older than the shared
vocabulary, kept because the alarms and dashboards use them; every hold is "planned"."""


@dataclass(frozen=True, slots=True)
class Datum:
    name: str
    value: float
    unit: Unit = "Count"


def outcome_datums(summary: PassSummary) -> tuple[Datum, ...]:
    totals = dict.fromkeys(OUTCOME_METRICS.values(), 0)
    for outcome, count in summary.correction_outcomes().items():
        totals[OUTCOME_METRICS[outcome]] += count
    return tuple(Datum(name, value) for name, value in totals.items())


def summary_datums(summary: PassSummary) -> tuple[Datum, ...]:
    """The datapoints of one pass; a fixed set, so the metric count never grows."""
    return (
        Datum(spec.METRIC_PASSES, 1),
        Datum(spec.METRIC_FAILED_PASSES, 1 if summary.failed else 0),
        Datum(spec.METRIC_EVENTS_CHECKED, summary.events_checked),
        Datum(spec.METRIC_IN_SYNC, summary.in_sync),
        Datum(spec.METRIC_DRIFTED, summary.drifted),
        Datum(spec.METRIC_DRIFT_OVER, summary.drift_over),
        Datum(spec.METRIC_DRIFT_UNDER, summary.drift_under),
        Datum(
            spec.METRIC_DRIFT_ATTENDEES,
            summary.drift_attendees_over + summary.drift_attendees_under,
        ),
        *outcome_datums(summary),
        Datum(spec.METRIC_AMBIGUOUS, summary.ambiguous),
        Datum(spec.METRIC_INVALID, summary.invalid),
        Datum(spec.METRIC_UNREADABLE_VERSION, summary.unsupported),
        Datum(spec.METRIC_BRAKE_TRIPPED, 1 if summary.brake_tripped else 0),
        Datum(spec.METRIC_DURATION, summary.duration_seconds, "Seconds"),
        Datum(spec.METRIC_CONSUMED_READ_UNITS, summary.consumed_read_units, "None"),
        *ledger_datums(summary),
    )


def ledger_datums(summary: PassSummary) -> tuple[Datum, ...]:
    """The ledger path's share of a pass: modes, counter repairs, key repairs by direction."""
    return (
        Datum(spec.METRIC_LEDGER_EVENTS, summary.ledger_events),
        Datum(spec.METRIC_CLASSIC_EVENTS, summary.classic_events),
        Datum(spec.METRIC_COUNTER_REPAIRS, summary.counter_repairs),
        Datum(spec.METRIC_KEY_REPAIRS_MISSING, summary.key_repairs_missing),
        Datum(spec.METRIC_KEY_REPAIRS_EXTRA, summary.key_repairs_extra),
        Datum(spec.METRIC_KEYS_IN_FLUX, summary.keys_in_flux),
        Datum(spec.METRIC_KEY_CONFLICTS, summary.key_conflicts),
    )


class SummaryPublisher:
    """Sends one pass's summary as one ``PutMetricData`` request to an injected client."""

    def __init__(
        self,
        cloudwatch: CloudWatchClient,
        namespace: str,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        if not namespace or namespace.startswith("AWS/"):
            raise ValueError("the CloudWatch namespace must be set and must not start with AWS/")
        self._cloudwatch = cloudwatch
        self._namespace = namespace
        self._clock = clock

    @property
    def namespace(self) -> str:
        return self._namespace

    def publish(self, summary: PassSummary) -> None:
        self.put(summary_datums(summary))

    def put(self, datums: Sequence[Datum]) -> None:
        """One request for ``datums``, stamped now: a pass's summary, or a replay's."""
        timestamp = self._clock()
        data: list[MetricDatumTypeDef] = [
            {"MetricName": d.name, "Value": float(d.value), "Unit": d.unit, "Timestamp": timestamp}
            for d in datums
        ]
        with aws_call("PutMetricData"):
            self._cloudwatch.put_metric_data(Namespace=self._namespace, MetricData=data)
