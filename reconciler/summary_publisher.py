"""Publishes each reconciliation pass's summary to CloudWatch, for the reconciler's alarms.

Prometheus scrapes ``serve`` inside the VPC; CloudWatch alarms cannot see that. One
``PutMetricData`` call per pass (a few datapoints, no dimensions) gives the alarms in
``alarms.spec`` something to watch for the price of one request per pass. The metric names
below are the contract with those alarms.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal

from reconciler.aws import translate_error
from reconciler.summary import PassSummary

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_cloudwatch.type_defs import MetricDatumTypeDef

METRIC_PASSES = "Passes"
METRIC_FAILED_PASSES = "FailedPasses"
"""0 or 1 per pass. Published on every pass, so a missing datapoint means no pass ran."""
METRIC_EVENTS_CHECKED = "EventsChecked"
METRIC_IN_SYNC = "InSync"
METRIC_DRIFTED = "Drifted"
METRIC_DRIFT_OVER = "DriftedOver"
METRIC_DRIFT_UNDER = "DriftedUnder"
METRIC_DRIFT_ATTENDEES = "DriftAttendees"
METRIC_CORRECTED = "Corrected"
METRIC_PLANNED = "CorrectionsPlanned"
METRIC_CONFLICTS = "Conflicts"
METRIC_IN_FLUX = "InFlux"
METRIC_AMBIGUOUS = "Ambiguous"
METRIC_INVALID = "Invalid"
METRIC_BRAKE_TRIPPED = "BrakeTripped"
METRIC_DURATION = "PassDuration"
METRIC_CONSUMED_READ_UNITS = "ConsumedReadUnits"

Unit = Literal["Count", "Seconds", "None"]


@dataclass(frozen=True, slots=True)
class Datum:
    name: str
    value: float
    unit: Unit = "Count"


def summary_datums(summary: PassSummary) -> tuple[Datum, ...]:
    """The datapoints of one pass; a fixed set, so the metric count never grows."""
    return (
        Datum(METRIC_PASSES, 1),
        Datum(METRIC_FAILED_PASSES, 1 if summary.failed else 0),
        Datum(METRIC_EVENTS_CHECKED, summary.events_checked),
        Datum(METRIC_IN_SYNC, summary.in_sync),
        Datum(METRIC_DRIFTED, summary.drifted),
        Datum(METRIC_DRIFT_OVER, summary.drift_over),
        Datum(METRIC_DRIFT_UNDER, summary.drift_under),
        Datum(METRIC_DRIFT_ATTENDEES, summary.drift_attendees_over + summary.drift_attendees_under),
        Datum(METRIC_CORRECTED, summary.corrected),
        Datum(METRIC_PLANNED, summary.planned),
        Datum(METRIC_CONFLICTS, summary.conflicts),
        Datum(METRIC_IN_FLUX, summary.in_flux),
        Datum(METRIC_AMBIGUOUS, summary.ambiguous),
        Datum(METRIC_INVALID, summary.invalid),
        Datum(METRIC_BRAKE_TRIPPED, 1 if summary.brake_tripped else 0),
        Datum(METRIC_DURATION, summary.duration_seconds, "Seconds"),
        Datum(METRIC_CONSUMED_READ_UNITS, summary.consumed_read_units, "None"),
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
        timestamp = self._clock()
        data: list[MetricDatumTypeDef] = [
            {"MetricName": d.name, "Value": float(d.value), "Unit": d.unit, "Timestamp": timestamp}
            for d in summary_datums(summary)
        ]
        try:
            self._cloudwatch.put_metric_data(Namespace=self._namespace, MetricData=data)
        except Exception as exc:
            raise translate_error("PutMetricData", exc) from exc
