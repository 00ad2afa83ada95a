"""The one specification of every alarm, built by a pure function from a few parameters.

The CLI (``reconciler alarms apply``) and the CDK ``MonitoringStack`` both render this list, so
the two can never disagree about a threshold. Every choice of ``treat_missing_data`` is
deliberate and explained next to the alarm: a wrong choice either pages on an idle system or
stays silent while the handler is down.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Literal

from reconciler.kernel import deployment_spec as deployed
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

DEFAULT_PREFIX = "attendee-counter"

# Alarm keys: stable identifiers used by the TOML file, the flags and the runbook anchors.
HANDLER_ERRORS = "handler-errors"
HANDLER_DURATION = "handler-duration"
HANDLER_THROTTLES = "handler-throttles"
HANDLER_ITERATOR_AGE = "handler-iterator-age"
HANDLER_PARTIAL_BATCH_FAILURES = "handler-partial-batch-failures"
HANDLER_MALFORMED_RECORDS = "handler-malformed-records"
ON_FAILURE_QUEUE_DEPTH = "on-failure-queue-depth"
RECONCILER_DRIFT = "reconciler-drift"
RECONCILER_FAILED_PASSES = "reconciler-failed-passes"

ALARM_KEYS: tuple[str, ...] = (
    HANDLER_ERRORS,
    HANDLER_DURATION,
    HANDLER_THROTTLES,
    HANDLER_ITERATOR_AGE,
    HANDLER_PARTIAL_BATCH_FAILURES,
    HANDLER_MALFORMED_RECORDS,
    ON_FAILURE_QUEUE_DEPTH,
    RECONCILER_DRIFT,
    RECONCILER_FAILED_PASSES,
)

THRESHOLD_UNITS: Mapping[str, str] = {
    HANDLER_ERRORS: "errors per period",
    HANDLER_DURATION: "percent of the function's timeout",
    HANDLER_THROTTLES: "throttled invocations per period",
    HANDLER_ITERATOR_AGE: "seconds",
    HANDLER_PARTIAL_BATCH_FAILURES: "partially failed batches per period",
    HANDLER_MALFORMED_RECORDS: "malformed records per period",
    ON_FAILURE_QUEUE_DEPTH: "messages waiting in the on-failure queue",
    RECONCILER_DRIFT: "drifted events per period",
    RECONCILER_FAILED_PASSES: "failed passes per period",
}
"""What a configured ``threshold`` means per alarm (the user never types milliseconds)."""

_EXTENDED_STATISTIC = re.compile(r"^p(\d{1,2}(\.\d{1,2})?|100)$")
_SHORT_PERIODS = (10, 20, 30)
_MAX_EVALUATION_SECONDS = 86_400


@dataclass(frozen=True, slots=True)
class AlarmSpec:
    """One alarm, independent of how it is created (boto3 or CloudFormation)."""

    key: str
    resource: str
    """Short resource label for the name: ``handler``, ``on-failure-queue``, ``reconciler``."""
    metric: str
    namespace: str
    dimensions: tuple[tuple[str, str], ...]
    period_seconds: int
    evaluation_periods: int
    datapoints_to_alarm: int
    comparison: Comparison
    threshold: float
    treat_missing_data: TreatMissingData
    description: str
    runbook_anchor: str
    severity: Severity
    statistic: Statistic | None = None
    extended_statistic: str | None = None

    def __post_init__(self) -> None:
        if (self.statistic is None) == (self.extended_statistic is None):
            raise ValueError(f"{self.key}: set exactly one of statistic and extended_statistic")
        if self.extended_statistic is not None and not _EXTENDED_STATISTIC.match(
            self.extended_statistic
        ):
            raise ValueError(f"{self.key}: bad extended statistic {self.extended_statistic!r}")

    @property
    def statistic_label(self) -> str:
        return (self.statistic or self.extended_statistic or "").lower()

    def name(self, prefix: str) -> str:
        """``{prefix}-{resource}-{metric}-{statistic}-{severity}``, metric in kebab case."""
        return "-".join(
            (prefix, self.resource, kebab(self.metric), self.statistic_label, self.severity)
        )


@dataclass(frozen=True, slots=True)
class Tuning:
    """Per-alarm overrides from flags or the TOML file; ``None`` keeps the default."""

    threshold: float | None = None
    period_seconds: int | None = None
    evaluation_periods: int | None = None
    datapoints_to_alarm: int | None = None


@dataclass(frozen=True, slots=True)
class SpecParameters:
    """Everything the specification depends on; nothing here needs AWS to be reachable."""

    function_name: str
    timeout_seconds: int
    handler_namespace: str = deployed.HANDLER_METRICS_NAMESPACE
    on_failure_queue_name: str | None = None
    """Alarm on the event source mapping's on-failure queue depth only when there is one."""
    reconciler_namespace: str | None = None
    """Alarm on the reconciler's published summaries only when it publishes them."""
    tuning: Mapping[str, Tuning] = field(default_factory=dict)
    disabled: frozenset[str] = frozenset()


def kebab(name: str) -> str:
    """``ApproximateNumberOfMessagesVisible`` -> ``approximate-number-of-messages-visible``."""
    return re.sub(r"(?<=[a-z0-9])(?=[A-Z])", "-", name).lower()


def build_specs(params: SpecParameters) -> tuple[AlarmSpec, ...]:
    """The enabled alarms, defaults overridden by ``params.tuning``, in a stable order."""
    unknown = (set(params.tuning) | set(params.disabled)) - set(ALARM_KEYS)
    if unknown:
        raise ConfigError(
            f"alarm {sorted(unknown)[0]!r}", f"is not an alarm; known: {', '.join(ALARM_KEYS)}"
        )
    if params.timeout_seconds < 1:
        raise ConfigError("function timeout", f"must be at least 1 s, got {params.timeout_seconds}")
    specs = [
        _tuned(spec, params.tuning.get(spec.key))
        for spec in _defaults(params)
        if spec.key not in params.disabled
    ]
    for spec in specs:
        _validate(spec)
    return tuple(specs)


def _defaults(p: SpecParameters) -> list[AlarmSpec]:
    fn = ((deployed.HANDLER_METRIC_DIMENSION, p.function_name),)

    def threshold(key: str, default: float) -> float:
        tuning = p.tuning.get(key)
        value = default if tuning is None or tuning.threshold is None else tuning.threshold
        return _cloudwatch_units(key, value, p.timeout_seconds)

    specs = [
        AlarmSpec(
            key=HANDLER_ERRORS,
            resource="handler",
            metric="Errors",
            namespace="AWS/Lambda",
            dimensions=fn,
            statistic="Sum",
            period_seconds=60,
            evaluation_periods=3,
            datapoints_to_alarm=3,
            comparison="GreaterThanThreshold",
            threshold=threshold(HANDLER_ERRORS, 0),
            # An idle stream invokes nothing and Lambda publishes no datapoint: that is healthy.
            treat_missing_data="notBreaching",
            description="The stream handler failed whole invocations for 3 minutes running; "
            "Lambda retries the batch and drops it after the retries.",
            runbook_anchor="runbook-handler-errors",
            severity="critical",
        ),
        AlarmSpec(
            key=HANDLER_DURATION,
            resource="handler",
            metric="Duration",
            namespace="AWS/Lambda",
            dimensions=fn,
            extended_statistic="p90",
            period_seconds=60,
            evaluation_periods=15,
            datapoints_to_alarm=15,
            comparison="GreaterThanThreshold",
            threshold=threshold(HANDLER_DURATION, 80.0),  # percent of the function's timeout
            # No invocations means nothing ran slowly; a stalled handler shows in iterator age.
            treat_missing_data="notBreaching",
            description="p90 handler duration stayed near its timeout for 15 minutes; "
            "invocations are about to time out and be retried.",
            runbook_anchor="runbook-handler-duration",
            severity="warning",
        ),
        AlarmSpec(
            key=HANDLER_THROTTLES,
            resource="handler",
            metric="Throttles",
            namespace="AWS/Lambda",
            dimensions=fn,
            statistic="Sum",
            period_seconds=60,
            evaluation_periods=5,
            datapoints_to_alarm=5,
            comparison="GreaterThanOrEqualToThreshold",
            threshold=threshold(HANDLER_THROTTLES, 1),
            # Lambda publishes Throttles only when something was throttled.
            treat_missing_data="notBreaching",
            description="The stream handler was throttled every minute for 5 minutes; "
            "the stream backs up behind it.",
            runbook_anchor="runbook-handler-throttles",
            severity="warning",
        ),
        AlarmSpec(
            key=HANDLER_ITERATOR_AGE,
            resource="handler",
            metric="IteratorAge",
            namespace="AWS/Lambda",
            dimensions=fn,
            statistic="Maximum",
            period_seconds=60,
            evaluation_periods=5,
            datapoints_to_alarm=5,
            comparison="GreaterThanThreshold",
            threshold=threshold(HANDLER_ITERATOR_AGE, 120.0),  # seconds
            # A gap in the middle of an incident (the handler failing before Lambda records an
            # age) must not clear the alarm, and an idle stream must not raise it: keep the
            # state the last real datapoints put it in.
            treat_missing_data="ignore",
            description="The stream handler is falling behind the stream; records older "
            "than 24 hours are trimmed and their counter updates lost.",
            runbook_anchor="runbook-handler-iterator-age",
            severity="critical",
        ),
        AlarmSpec(
            key=HANDLER_PARTIAL_BATCH_FAILURES,
            resource="handler",
            metric=deployed.METRIC_PARTIAL_BATCH_FAILURES,
            namespace=p.handler_namespace,
            dimensions=fn,
            statistic="Sum",
            period_seconds=60,
            evaluation_periods=5,
            datapoints_to_alarm=3,
            comparison="GreaterThanThreshold",
            threshold=threshold(HANDLER_PARTIAL_BATCH_FAILURES, 0),
            # The handler writes its EMF line on every invocation, zeros included; no line
            # means no invocation, which is not a failure.
            treat_missing_data="notBreaching",
            description="The handler reported partial batch failures in 3 of 5 minutes "
            "(Lambda's Errors metric never sees these); the failing records are retried "
            "and dropped to the on-failure queue after the retries.",
            runbook_anchor="runbook-handler-partial-batch-failures",
            severity="warning",
        ),
        AlarmSpec(
            key=HANDLER_MALFORMED_RECORDS,
            resource="handler",
            metric=deployed.METRIC_MALFORMED_RECORDS,
            namespace=p.handler_namespace,
            dimensions=fn,
            statistic="Sum",
            period_seconds=300,
            evaluation_periods=1,
            datapoints_to_alarm=1,
            comparison="GreaterThanThreshold",
            threshold=threshold(HANDLER_MALFORMED_RECORDS, 0),
            # As above: the EMF line is written per invocation, so missing means idle.
            treat_missing_data="notBreaching",
            description="The handler skipped records it could not parse; retries cannot fix "
            "them, so the affected counters drift until the reconciler corrects them.",
            runbook_anchor="runbook-handler-malformed-records",
            severity="warning",
        ),
    ]
    if p.on_failure_queue_name:
        specs.append(
            AlarmSpec(
                key=ON_FAILURE_QUEUE_DEPTH,
                resource="on-failure-queue",
                metric="ApproximateNumberOfMessagesVisible",
                namespace="AWS/SQS",
                dimensions=(("QueueName", p.on_failure_queue_name),),
                statistic="Maximum",
                period_seconds=300,
                evaluation_periods=1,
                datapoints_to_alarm=1,
                comparison="GreaterThanThreshold",
                threshold=threshold(ON_FAILURE_QUEUE_DEPTH, 0),
                # SQS stops publishing for a queue that has been empty and untouched for
                # hours; a queue holding messages stays active, so missing means empty.
                treat_missing_data="notBreaching",
                description="Stream records were dropped after the handler's retries and "
                "wait in the on-failure queue; their counter updates were never applied.",
                runbook_anchor="runbook-on-failure-queue-depth",
                severity="critical",
            )
        )
    if p.reconciler_namespace:
        specs.extend(
            [
                AlarmSpec(
                    key=RECONCILER_DRIFT,
                    resource="reconciler",
                    metric=deployed.METRIC_DRIFTED,
                    namespace=p.reconciler_namespace,
                    dimensions=(),
                    statistic="Sum",
                    period_seconds=3600,
                    evaluation_periods=1,
                    datapoints_to_alarm=1,
                    comparison="GreaterThanThreshold",
                    threshold=threshold(RECONCILER_DRIFT, 10),
                    # Drift is published by passes; no pass means no drift measured, and the
                    # failed-passes alarm is the one that notices a missing reconciler.
                    treat_missing_data="notBreaching",
                    description="The reconciler found more drifted counters in an hour than "
                    "at-least-once delivery explains; the stream path is losing or "
                    "repeating updates.",
                    runbook_anchor="runbook-reconciler-drift",
                    severity="warning",
                ),
                AlarmSpec(
                    key=RECONCILER_FAILED_PASSES,
                    resource="reconciler",
                    metric=deployed.METRIC_FAILED_PASSES,
                    namespace=p.reconciler_namespace,
                    dimensions=(),
                    statistic="Sum",
                    period_seconds=900,
                    evaluation_periods=2,
                    datapoints_to_alarm=2,
                    comparison="GreaterThanOrEqualToThreshold",
                    threshold=threshold(RECONCILER_FAILED_PASSES, 1),
                    # Every pass publishes FailedPasses (0 on success), so no data for 30
                    # minutes means no pass ran at all: as bad as failing.
                    treat_missing_data="breaching",
                    description="Reconciliation passes failed, or none ran, for 30 minutes; "
                    "counter drift is no longer being corrected.",
                    runbook_anchor="runbook-reconciler-failed-passes",
                    severity="critical",
                ),
            ]
        )
    return specs


def _cloudwatch_units(key: str, value: float, timeout_seconds: int) -> float:
    """Configured thresholds are in the operator's units; CloudWatch wants milliseconds."""
    label = f"alarms.{key}.threshold"
    if value < 0:
        raise ConfigError(label, f"must not be negative, got {value:g}")
    if key == HANDLER_DURATION:
        if not 0 < value <= 100:
            raise ConfigError(label, f"is a percent of the timeout in (0, 100], got {value:g}")
        return round(timeout_seconds * 1000 * value / 100, 3)
    if key == HANDLER_ITERATOR_AGE:
        return value * 1000
    return value


def _tuned(spec: AlarmSpec, tuning: Tuning | None) -> AlarmSpec:
    tuning = tuning or Tuning()
    return replace(
        spec,
        period_seconds=tuning.period_seconds or spec.period_seconds,
        evaluation_periods=tuning.evaluation_periods or spec.evaluation_periods,
        datapoints_to_alarm=tuning.datapoints_to_alarm
        or min(spec.datapoints_to_alarm, tuning.evaluation_periods or spec.evaluation_periods),
    )


def _validate(spec: AlarmSpec) -> None:
    label = f"alarms.{spec.key}"
    if spec.period_seconds not in _SHORT_PERIODS and (
        spec.period_seconds < 60 or spec.period_seconds % 60
    ):
        raise ConfigError(
            f"{label}.period", f"must be 10, 20, 30 or a multiple of 60, got {spec.period_seconds}"
        )
    if spec.evaluation_periods < 1:
        raise ConfigError(f"{label}.evaluation_periods", "must be at least 1")
    if spec.period_seconds * spec.evaluation_periods > _MAX_EVALUATION_SECONDS:
        raise ConfigError(
            f"{label}.evaluation_periods", "period x evaluation periods must not exceed one day"
        )
    if not 1 <= spec.datapoints_to_alarm <= spec.evaluation_periods:
        raise ConfigError(
            f"{label}.datapoints_to_alarm",
            f"must be between 1 and evaluation_periods ({spec.evaluation_periods}), "
            f"got {spec.datapoints_to_alarm}",
        )
