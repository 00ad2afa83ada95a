"""``serve --on-failure-queue-url``: the replay of dropped batches, run by the leader first
in every scheduled pass.

Running it inside the pass job makes it scheduled and leader-only with the pass's own
machinery (one replica replays, never two), and replaying before recounting means the pass
sees the counters the replay completed instead of correcting drift a replay would fix anyway.
A replay that fails never fails the pass: its messages stay on the queue for the next one.
With a CloudWatch namespace, each replay also publishes how many messages it kept, for the
``replay-kept-messages`` alarm (Prometheus has the same as ``reconciler_replay_kept_messages``).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry, Counter, Gauge

from reconciler.handler.emf import MetricTotals
from reconciler.handler.entry import HandlerSettings
from reconciler.handler.replay_queue import ReplayJob, ReplaySummary, handler_replayer
from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.errors import ReconcilerError
from reconciler.kernel.logs import get_logger
from reconciler.reconcile.publisher import Datum, SummaryPublisher

if TYPE_CHECKING:
    from reconciler.kernel.aws import Clients
    from reconciler.reconcile.pass_control import PassControl
    from reconciler.reconcile.summary import PassSummary
    from reconciler.serve.job import PassRunner

log = get_logger(__name__)


class ReplayMetrics:
    """The replay's Prometheus series, on the worker's registry."""

    def __init__(self, registry: CollectorRegistry) -> None:
        self.messages = Counter(
            "reconciler_replay_messages",
            "On-failure messages by outcome (replayed, trimmed, failed).",
            ["outcome"],
            registry=registry,
        )
        self.records = Counter(
            "reconciler_replay_records",
            "Stream records run through the handler by replays.",
            registry=registry,
        )
        self.kept = Gauge(
            "reconciler_replay_kept_messages",
            "Messages the last replay left on the queue (range gone, malformed or refused).",
            registry=registry,
        )
        for outcome in ("replayed", "trimmed", "failed"):
            self.messages.labels(outcome=outcome)

    def observe(self, summary: ReplaySummary) -> None:
        self.messages.labels(outcome="replayed").inc(summary.replayed)
        self.messages.labels(outcome="trimmed").inc(summary.trimmed)
        self.messages.labels(outcome="failed").inc(summary.failed)
        self.records.inc(summary.records_replayed)
        self.kept.set(summary.trimmed + summary.failed)


def replay_datums(summary: ReplaySummary) -> tuple[Datum, ...]:
    """A replay's CloudWatch datapoints: a fixed pair, published once per replay."""
    return (
        Datum(spec.METRIC_REPLAYED, summary.replayed),
        Datum(spec.METRIC_REPLAY_KEPT, summary.trimmed + summary.failed),
    )


class CloudWatchReplayReport:
    """Publishes each replay's datapoints; a CloudWatch outage is logged, never raised, as a
    pass's own summary is."""

    def __init__(self, publisher: SummaryPublisher) -> None:
        self._publisher = publisher

    def __call__(self, summary: ReplaySummary) -> None:
        try:
            self._publisher.put(replay_datums(summary))
        except ReconcilerError as exc:
            log.warning(
                "replay_publish_failed",
                namespace=self._publisher.namespace,
                error=type(exc).__name__,
            )


class ReplayingRunner:
    """A :class:`PassRunner` that drains the on-failure queue before each pass."""

    def __init__(
        self,
        runner: PassRunner,
        new_job: Callable[[], ReplayJob],
        metrics: ReplayMetrics,
        report: Callable[[ReplaySummary], None] | None = None,
    ) -> None:
        self._runner = runner
        self._new_job = new_job
        self._metrics = metrics
        self._report = report

    def run_pass(
        self, control: PassControl | None = None, run_id: str | None = None
    ) -> PassSummary:
        job = self._new_job()
        drained = True
        try:
            job.drain()
        except ReconcilerError as exc:
            drained = False
            log.error("replay_drain_failed", error=type(exc).__name__)
        self._metrics.observe(job.summary)
        log.info("replay_drained", **job.summary.to_dict())
        # A drain cut short counted only part of the queue: reporting its "kept" would clear
        # the alarm on a guess. Its error is logged; the queue-depth alarm still sees the queue.
        if drained and self._report is not None:
            self._report(job.summary)
        return self._runner.run_pass(control, run_id=run_id)


def replaying(
    runner: PassRunner,
    queue_url: str,
    handler_settings: HandlerSettings,
    clients: Clients,
    registry: CollectorRegistry,
    *,
    cloudwatch_namespace: str | None = None,
) -> ReplayingRunner:
    """``runner`` with the replay of ``queue_url`` in front, through the deployed handler;
    each replay's counts go to ``cloudwatch_namespace`` when one is given."""
    metrics = ReplayMetrics(registry)
    replayer = handler_replayer(handler_settings, clients, MetricTotals())
    report = None
    if cloudwatch_namespace is not None:
        report = CloudWatchReplayReport(
            SummaryPublisher(clients.cloudwatch(), cloudwatch_namespace)
        )
    return ReplayingRunner(
        runner, lambda: ReplayJob(clients.sqs(), queue_url, replayer), metrics, report
    )
