"""Alarm factories: one per kind of metric, holding the defaults every alarm of that kind shares.

In the manner of cdk-monitoring-constructs' alarm factories, a factory knows which resource its
metrics describe and which statistic, period, comparison and missing-data treatment suit them,
so each alarm in the table of ``alarms.spec`` states only what makes it different. A factory
builds an :class:`AlarmRule`, the alarm as the table states it: its metric source is a kind, not
yet a namespace, and its threshold is still in the operator's units. ``alarms.spec.build_specs``
makes the concrete specs once it knows the function, the queue and the namespaces.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from reconciler.kernel.errors import ConfigError

Severity = Literal["critical", "warning"]
Comparison = Literal[
    "GreaterThanThreshold",
    "GreaterThanOrEqualToThreshold",
    "LessThanThreshold",
    "LessThanOrEqualToThreshold",
]
TreatMissingData = Literal["breaching", "notBreaching", "ignore", "missing"]
Statistic = Literal["SampleCount", "Average", "Sum", "Minimum", "Maximum"]
MetricSource = Literal["lambda", "handler-emf", "on-failure-queue", "reconciler"]
"""Where a kind of metric lives; ``alarms.spec`` resolves it to a namespace and dimensions."""
ThresholdUnit = Literal["count", "seconds", "percent-of-timeout"]
"""The unit the operator configures; CloudWatch gets milliseconds for the last two."""


@dataclass(frozen=True, slots=True)
class AlarmRule:
    """One alarm of the table, before the deployment's names and the tuning are known."""

    key: str
    source: MetricSource
    resource: str
    """Short resource label for the name: ``handler``, ``on-failure-queue``, ``reconciler``."""
    metric: str
    severity: Severity
    description: str
    threshold: float
    threshold_means: str
    """What a configured threshold counts, for ``--help`` (the user never types milliseconds)."""
    threshold_unit: ThresholdUnit
    period_seconds: int
    evaluation_periods: int
    datapoints_to_alarm: int
    comparison: Comparison
    treat_missing_data: TreatMissingData
    statistic: Statistic | None
    extended_statistic: str | None

    def cloudwatch_threshold(self, value: float, timeout_seconds: int) -> float:
        """A threshold in the operator's units, as CloudWatch compares it."""
        label = f"alarms.{self.key}.threshold"
        if value < 0:
            raise ConfigError(label, f"must not be negative, got {value:g}")
        if self.threshold_unit == "percent-of-timeout":
            if not 0 < value <= 100:
                raise ConfigError(label, f"is a percent of the timeout in (0, 100], got {value:g}")
            return round(timeout_seconds * 1000 * value / 100, 3)
        if self.threshold_unit == "seconds":
            return value * 1000
        return value


@dataclass(frozen=True, slots=True)
class AlarmFactory:
    """The defaults of one kind of metric; :meth:`alarm` overrides only what it is given."""

    source: MetricSource
    resource: str
    statistic: Statistic = "Sum"
    period_seconds: int = 60
    comparison: Comparison = "GreaterThanThreshold"
    treat_missing_data: TreatMissingData = "notBreaching"

    def alarm(
        self,
        key: str,
        metric: str,
        *,
        severity: Severity,
        threshold: float,
        threshold_means: str,
        description: str,
        evaluation_periods: int = 1,
        datapoints_to_alarm: int | None = None,  # default: every evaluated period breaches
        period_seconds: int | None = None,
        statistic: Statistic | None = None,
        percentile: str | None = None,  # ``p90``: replaces the factory's statistic
        comparison: Comparison | None = None,
        treat_missing_data: TreatMissingData | None = None,
        threshold_unit: ThresholdUnit = "count",
    ) -> AlarmRule:
        return AlarmRule(
            key=key,
            source=self.source,
            resource=self.resource,
            metric=metric,
            severity=severity,
            description=description,
            threshold=threshold,
            threshold_means=threshold_means,
            threshold_unit=threshold_unit,
            period_seconds=period_seconds or self.period_seconds,
            evaluation_periods=evaluation_periods,
            datapoints_to_alarm=datapoints_to_alarm or evaluation_periods,
            comparison=comparison or self.comparison,
            treat_missing_data=treat_missing_data or self.treat_missing_data,
            statistic=None if percentile else statistic or self.statistic,
            extended_statistic=percentile,
        )


LAMBDA_METRICS = AlarmFactory(source="lambda", resource="handler")
"""``AWS/Lambda`` metrics of the stream handler. Lambda publishes nothing for a function that
was not invoked, and an idle stream invokes nothing: missing data is healthy by default."""

HANDLER_EMF_METRICS = AlarmFactory(source="handler-emf", resource="handler")
"""What the handler itself reports in Embedded Metric Format. It writes its line on every
invocation, zeros included; no line means no invocation, which is not a failure."""

QUEUE_DEPTH = AlarmFactory(
    source="on-failure-queue", resource="on-failure-queue", statistic="Maximum", period_seconds=300
)
"""Depth of the event source mapping's on-failure queue. SQS stops publishing for a queue that
has been empty and untouched for hours; a queue holding messages stays active, so missing data
means empty."""

RECONCILER_SUMMARY = AlarmFactory(source="reconciler", resource="reconciler")
"""The per-pass summary ``reconciler run`` and ``serve`` publish to CloudWatch."""
