"""The CloudWatch dashboard of the MonitoringStack: the handler, the reconciler, the queue.

Every metric on it is one something already publishes, named by the constant its publisher uses:
the handler's EMF metrics and the reconciler's per-pass summary (``deployment_spec``), and the
Lambda and SQS metrics the alarms of ``alarms.spec`` watch. ``tests/deploy`` checks each widget's
metrics against those publishers, so a renamed metric cannot leave an empty graph behind.
Thresholds drawn on the graphs are the stack's own alarms', so a graph shows where its alarm
fires.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

from aws_cdk import Duration
from aws_cdk import aws_cloudwatch as cloudwatch
from constructs import Construct

from alarms.spec import HANDLER_DURATION, HANDLER_ITERATOR_AGE
from reconciler.kernel import deployment_spec as spec

WIDTH = 8
HEIGHT = 6
ONE_MINUTE = Duration.minutes(1)
FIVE_MINUTES = Duration.minutes(5)


class _Source:
    """One namespace and its dimensions: makes the metrics of one publisher."""

    def __init__(self, namespace: str, dimensions: Mapping[str, str]) -> None:
        self._namespace = namespace
        self._dimensions = dict(dimensions)

    def metric(
        self,
        name: str,
        statistic: str = "Sum",
        period: Duration = ONE_MINUTE,
        label: str | None = None,
    ) -> cloudwatch.Metric:
        return cloudwatch.Metric(
            namespace=self._namespace,
            metric_name=name,
            dimensions_map=self._dimensions or None,
            statistic=statistic,
            period=period,
            label=label or name,
        )


def _graph(
    title: str,
    left: Sequence[cloudwatch.IMetric],
    *,
    lines: Sequence[tuple[float, str]] = (),
    right: Sequence[cloudwatch.IMetric] = (),
    width: int = WIDTH,
) -> cloudwatch.GraphWidget:
    annotations = [cloudwatch.HorizontalAnnotation(value=v, label=label) for v, label in lines]
    return cloudwatch.GraphWidget(
        title=title,
        left=list(left),
        right=list(right),
        left_annotations=annotations or None,
        width=width,
        height=HEIGHT,
    )


def _alarm_line(thresholds: Mapping[str, float], key: str) -> list[tuple[float, str]]:
    """Where the alarm ``key`` fires, in the metric's own unit; nothing if it is disabled."""
    threshold = thresholds.get(key)
    return [] if threshold is None else [(threshold, f"alarm {key}")]


def handler_widgets(
    function_name: str,
    timeout_seconds: int,
    handler_namespace: str,
    thresholds: Mapping[str, float],
) -> list[cloudwatch.IWidget]:
    emf = _Source(handler_namespace, {spec.HANDLER_METRIC_DIMENSION: function_name})
    aws = _Source("AWS/Lambda", {spec.HANDLER_METRIC_DIMENSION: function_name})
    timeout_ms = timeout_seconds * 1000

    def sums(*names: str) -> list[cloudwatch.IMetric]:
        return [emf.metric(name) for name in names]

    return [
        cloudwatch.TextWidget(
            markdown=f"## Stream handler `{function_name}`\nRecords in, counter updates out, "
            "and what the handler skipped or could not finish (EMF metrics and Lambda's own).",
            width=24,
            height=2,
        ),
        _graph(
            "Records by kind",
            sums(
                spec.METRIC_RECORDS_INSERT,
                spec.METRIC_RECORDS_REMOVE,
                spec.METRIC_RECORDS_MODIFY,
                spec.METRIC_RECORDS_IGNORED,
            ),
        ),
        _graph(
            "Counter updates applied",
            sums(spec.METRIC_COUNTER_UPDATES, spec.METRIC_DUPLICATES_SKIPPED),
        ),
        _graph(
            "Partial batch failures and errors",
            [
                *sums(spec.METRIC_PARTIAL_BATCH_FAILURES),
                aws.metric("Errors"),
                aws.metric("Throttles"),
            ],
        ),
        _graph(
            "Records skipped",
            sums(
                spec.METRIC_MALFORMED_RECORDS,
                spec.METRIC_ORPHAN_RECORDS,
                spec.METRIC_AMBIGUOUS_RECORDS,
                spec.METRIC_CLAMPED_AT_ZERO,
            ),
        ),
        _graph(
            f"Duration vs the {timeout_seconds} s timeout (ms)",
            [
                aws.metric("Duration", "p90", label="Duration p90"),
                aws.metric("Duration", "Maximum", label="Duration max"),
            ],
            lines=[(timeout_ms, "timeout"), *_alarm_line(thresholds, HANDLER_DURATION)],
        ),
        _graph(
            "Iterator age (ms)",
            [aws.metric("IteratorAge", "Maximum")],
            lines=_alarm_line(thresholds, HANDLER_ITERATOR_AGE),
        ),
    ]


RECONCILER_SUMS: tuple[tuple[str, tuple[str, ...]], ...] = (
    ("Passes", (spec.METRIC_PASSES, spec.METRIC_FAILED_PASSES)),
    ("Events checked and exact", (spec.METRIC_EVENTS_CHECKED, spec.METRIC_IN_SYNC)),
    (
        "Corrections",
        (spec.METRIC_CORRECTED, spec.METRIC_PLANNED, spec.METRIC_CONFLICTS, spec.METRIC_IN_FLUX),
    ),
    ("Read units consumed", (spec.METRIC_CONSUMED_READ_UNITS,)),
)
"""Graphs of per-pass sums: title, metrics."""


def reconciler_widgets(namespace: str) -> list[cloudwatch.IWidget]:
    summary = _Source(namespace, {})

    def sums(*names: str) -> list[cloudwatch.IMetric]:
        return [summary.metric(name, period=FIVE_MINUTES) for name in names]

    return [
        cloudwatch.TextWidget(
            markdown="## Reconciler\nWhat each pass found and did (`serve` publishes one "
            "summary per pass; sums over 5 minutes).",
            width=24,
            height=2,
        ),
        _graph(
            "Drift found",
            sums(spec.METRIC_DRIFT_OVER, spec.METRIC_DRIFT_UNDER),
            right=sums(spec.METRIC_DRIFT_ATTENDEES),
        ),
        *(_graph(title, sums(*names)) for title, names in RECONCILER_SUMS),
        _graph(
            "Pass duration (s)",
            [summary.metric(spec.METRIC_DURATION, "Maximum", period=FIVE_MINUTES)],
        ),
    ]


def queue_widgets(queue_name: str | None, namespace: str | None) -> list[cloudwatch.IWidget]:
    widgets: list[cloudwatch.IWidget] = []
    if queue_name:
        queue = _Source("AWS/SQS", {"QueueName": queue_name})
        widgets.append(
            _graph(
                f"On-failure queue {queue_name}",
                [queue.metric("ApproximateNumberOfMessagesVisible", "Maximum")],
                width=12,
            )
        )
    if namespace:
        summary = _Source(namespace, {})
        widgets.append(
            _graph(
                "Replays of the on-failure queue",
                [
                    summary.metric(spec.METRIC_REPLAYED, period=FIVE_MINUTES),
                    summary.metric(spec.METRIC_REPLAY_KEPT, "Maximum", period=FIVE_MINUTES),
                ],
                width=12,
            )
        )
    if widgets:
        widgets.insert(
            0,
            cloudwatch.TextWidget(
                markdown="## On-failure queue\nBatches the handler gave up on, and the "
                "reconciler's replays of them.",
                width=24,
                height=2,
            ),
        )
    return widgets


def add_dashboard(
    scope: Construct,
    *,
    name: str,
    function_name: str,
    timeout_seconds: int,
    handler_namespace: str,
    alarm_thresholds: Mapping[str, float],
    on_failure_queue_name: str | None,
    reconciler_namespace: str | None,
) -> cloudwatch.Dashboard:
    """The dashboard, with the reconciler's and the queue's rows only when they exist.

    ``alarm_thresholds``: alarm key -> its CloudWatch threshold, drawn on the alarm's graph.
    """
    sections = [
        handler_widgets(function_name, timeout_seconds, handler_namespace, alarm_thresholds)
    ]
    if reconciler_namespace:
        sections.append(reconciler_widgets(reconciler_namespace))
    sections.append(queue_widgets(on_failure_queue_name, reconciler_namespace))
    rows = [row for section in sections if section for row in (section[:1], section[1:])]
    return cloudwatch.Dashboard(
        scope,
        "Dashboard",
        dashboard_name=name,
        default_interval=Duration.hours(6),
        widgets=rows,
    )
