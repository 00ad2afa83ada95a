"""The one specification of every alarm: a declarative table, built by a pure function.

The CLI (``reconciler alarms apply``) and the CDK ``MonitoringStack`` both render this list, so
the two can never disagree about a threshold. Each row is made by the factory of its metric's
kind (``alarms.factories``) and states only what differs from that kind's defaults. Every
choice of ``treat_missing_data`` is deliberate and explained beside its row or its factory: a
wrong choice either pages on an idle system or stays silent while the handler is down.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field

from alarms.factories import (
    HANDLER_EMF_METRICS,
    LAMBDA_METRICS,
    QUEUE_DEPTH,
    RECONCILER_SUMMARY,
    AlarmRule,
    Comparison,
    MetricSource,
    Severity,
    Statistic,
    TreatMissingData,
)
from alarms.runbooks import runbook_url
from reconciler.kernel import deployment_spec as deployed
from reconciler.kernel.errors import ConfigError

__all__ = [
    "ALARM_KEYS",
    "DEFAULT_PREFIX",
    "HANDLER_DURATION",
    "HANDLER_ERRORS",
    "HANDLER_ITERATOR_AGE",
    "HANDLER_MALFORMED_RECORDS",
    "HANDLER_PARTIAL_BATCH_FAILURES",
    "HANDLER_THROTTLES",
    "ON_FAILURE_QUEUE_DEPTH",
    "RECONCILER_DRIFT",
    "RECONCILER_FAILED_PASSES",
    "REPLAY_KEPT_MESSAGES",
    "RULES",
    "THRESHOLD_UNITS",
    "AlarmSpec",
    "SpecParameters",
    "Tuning",
    "build_specs",
    "kebab",
]

DEFAULT_PREFIX = "attendee-counter"

# Alarm keys: stable identifiers used by the TOML file, the flags and the runbook URLs.
HANDLER_ERRORS = "handler-errors"
HANDLER_DURATION = "handler-duration"
HANDLER_THROTTLES = "handler-throttles"
HANDLER_ITERATOR_AGE = "handler-iterator-age"
HANDLER_PARTIAL_BATCH_FAILURES = "handler-partial-batch-failures"
HANDLER_MALFORMED_RECORDS = "handler-malformed-records"
ON_FAILURE_QUEUE_DEPTH = "on-failure-queue-depth"
RECONCILER_DRIFT = "reconciler-drift"
RECONCILER_FAILED_PASSES = "reconciler-failed-passes"
REPLAY_KEPT_MESSAGES = "replay-kept-messages"

RULES: tuple[AlarmRule, ...] = (
    LAMBDA_METRICS.alarm(
        HANDLER_ERRORS,
        "Errors",
        severity="critical",
        threshold=0,
        threshold_means="errors per period",
        evaluation_periods=3,
        description="The stream handler failed whole invocations for 3 minutes running; "
        "Lambda retries the batch and drops it after the retries.",
    ),
    LAMBDA_METRICS.alarm(
        HANDLER_DURATION,
        "Duration",
        severity="warning",
        percentile="p90",
        threshold=80.0,
        threshold_unit="percent-of-timeout",
        threshold_means="percent of the function's timeout",
        evaluation_periods=15,
        # Missing data: no invocations, so nothing ran slowly; a stalled handler shows in
        # iterator age.
        description="p90 handler duration stayed near its timeout for 15 minutes; "
        "invocations are about to time out and be retried.",
    ),
    LAMBDA_METRICS.alarm(
        HANDLER_THROTTLES,
        "Throttles",
        severity="warning",
        comparison="GreaterThanOrEqualToThreshold",
        threshold=1,
        threshold_means="throttled invocations per period",
        evaluation_periods=5,
        # Missing data: Lambda publishes Throttles only when something was throttled.
        description="The stream handler was throttled every minute for 5 minutes; "
        "the stream backs up behind it.",
    ),
    LAMBDA_METRICS.alarm(
        HANDLER_ITERATOR_AGE,
        "IteratorAge",
        severity="critical",
        statistic="Maximum",
        threshold=120.0,
        threshold_unit="seconds",
        threshold_means="seconds",
        evaluation_periods=5,
        # Missing data: a gap in an incident (the handler failing before Lambda records an
        # age) must not clear the alarm, and an idle stream must not raise it: keep the state
        # the last real datapoints put it in.
        treat_missing_data="ignore",
        description="The stream handler is falling behind the stream; records older "
        "than 24 hours are trimmed and their counter updates lost.",
    ),
    HANDLER_EMF_METRICS.alarm(
        HANDLER_PARTIAL_BATCH_FAILURES,
        deployed.METRIC_PARTIAL_BATCH_FAILURES,
        severity="warning",
        threshold=0,
        threshold_means="partially failed batches per period",
        evaluation_periods=5,
        datapoints_to_alarm=3,
        description="The handler reported partial batch failures in 3 of 5 minutes "
        "(Lambda's Errors metric never sees these); the failing records are retried "
        "and dropped to the on-failure queue after the retries.",
    ),
    HANDLER_EMF_METRICS.alarm(
        HANDLER_MALFORMED_RECORDS,
        deployed.METRIC_MALFORMED_RECORDS,
        severity="warning",
        threshold=0,
        threshold_means="malformed records per period",
        period_seconds=300,
        description="The handler skipped records it could not parse; retries cannot fix "
        "them, so the affected counters drift until the reconciler corrects them.",
    ),
    QUEUE_DEPTH.alarm(
        ON_FAILURE_QUEUE_DEPTH,
        "ApproximateNumberOfMessagesVisible",
        severity="critical",
        threshold=0,
        threshold_means="messages waiting in the on-failure queue",
        description="Stream records were dropped after the handler's retries and "
        "wait in the on-failure queue; their counter updates were never applied.",
    ),
    RECONCILER_SUMMARY.alarm(
        RECONCILER_DRIFT,
        deployed.METRIC_DRIFTED,
        severity="warning",
        threshold=10,
        threshold_means="drifted events per period",
        period_seconds=3600,
        # Missing data: drift is published by passes; no pass means no drift measured, and the
        # failed-passes alarm is the one that notices a missing reconciler.
        description="The reconciler found more drifted counters in an hour than "
        "at-least-once delivery explains; the stream path is losing or "
        "repeating updates.",
    ),
    RECONCILER_SUMMARY.alarm(
        RECONCILER_FAILED_PASSES,
        deployed.METRIC_FAILED_PASSES,
        severity="critical",
        comparison="GreaterThanOrEqualToThreshold",
        threshold=1,
        threshold_means="failed passes per period",
        period_seconds=900,
        evaluation_periods=2,
        # Missing data: every pass publishes FailedPasses (0 on success), so no data for 30
        # minutes means no pass ran at all: as bad as failing.
        treat_missing_data="breaching",
        description="Reconciliation passes failed, or none ran, for 30 minutes; "
        "counter drift is no longer being corrected.",
    ),
    RECONCILER_SUMMARY.alarm(
        REPLAY_KEPT_MESSAGES,
        deployed.METRIC_REPLAY_KEPT,
        severity="warning",
        statistic="Maximum",
        threshold=0,
        threshold_means="on-failure messages the last replay kept",
        period_seconds=900,
        evaluation_periods=2,
        # Not the queue's ApproximateAgeOfOldestMessage: SQS leaves a message received three
        # times out of that metric, and the replay receives a kept message on every pass.
        # Missing data: only serve with --on-failure-queue-url publishes it, once per pass.
        description="The reconciler's replay kept on-failure messages for 30 minutes: their "
        "records left the stream, or the handler refused them. Per-key repair corrects the "
        "counts; an operator must inspect and delete each message.",
    ),
)
"""Every alarm, in the order they are listed, planned and created."""

ALARM_KEYS: tuple[str, ...] = tuple(rule.key for rule in RULES)

THRESHOLD_UNITS: Mapping[str, str] = {rule.key: rule.threshold_means for rule in RULES}
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

    def runbook_url(self, template: str = deployed.RUNBOOK_URL_TEMPLATE) -> str:
        """Keyed by the alarm key, not the name: renaming the prefix keeps every link."""
        return runbook_url(template, self.key)


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
    """The enabled alarms, defaults overridden by ``params.tuning``, in a stable order.

    An alarm whose metric source is absent (no on-failure queue, no reconciler namespace) is
    left out, as is every alarm in ``params.disabled``.
    """
    unknown = (set(params.tuning) | set(params.disabled)) - set(ALARM_KEYS)
    if unknown:
        raise ConfigError(
            f"alarm {sorted(unknown)[0]!r}", f"is not an alarm; known: {', '.join(ALARM_KEYS)}"
        )
    if params.timeout_seconds < 1:
        raise ConfigError("function timeout", f"must be at least 1 s, got {params.timeout_seconds}")
    located = _metric_sources(params)
    specs = []
    for rule in RULES:
        where = located[rule.source]
        if where is None or rule.key in params.disabled:
            continue
        spec = _spec(rule, where, params.tuning.get(rule.key) or Tuning(), params.timeout_seconds)
        _validate(spec)
        specs.append(spec)
    return tuple(specs)


_Where = tuple[str, tuple[tuple[str, str], ...]]
"""A metric source's namespace and dimensions."""


def _metric_sources(p: SpecParameters) -> Mapping[MetricSource, _Where | None]:
    function = ((deployed.HANDLER_METRIC_DIMENSION, p.function_name),)
    queue = p.on_failure_queue_name
    return {
        "lambda": ("AWS/Lambda", function),
        "handler-emf": (p.handler_namespace, function),
        "on-failure-queue": ("AWS/SQS", (("QueueName", queue),)) if queue else None,
        "reconciler": (p.reconciler_namespace, ()) if p.reconciler_namespace else None,
    }


def _spec(rule: AlarmRule, where: _Where, tuning: Tuning, timeout_seconds: int) -> AlarmSpec:
    namespace, dimensions = where
    threshold = rule.threshold if tuning.threshold is None else tuning.threshold
    evaluation_periods = tuning.evaluation_periods or rule.evaluation_periods
    return AlarmSpec(
        key=rule.key,
        resource=rule.resource,
        metric=rule.metric,
        namespace=namespace,
        dimensions=dimensions,
        statistic=rule.statistic,
        extended_statistic=rule.extended_statistic,
        period_seconds=tuning.period_seconds or rule.period_seconds,
        evaluation_periods=evaluation_periods,
        datapoints_to_alarm=tuning.datapoints_to_alarm
        or min(rule.datapoints_to_alarm, evaluation_periods),
        comparison=rule.comparison,
        threshold=rule.cloudwatch_threshold(threshold, timeout_seconds),
        treat_missing_data=rule.treat_missing_data,
        description=rule.description,
        severity=rule.severity,
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
