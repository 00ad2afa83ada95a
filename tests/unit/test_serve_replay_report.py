"""Each replay inside ``serve`` reports to CloudWatch how many on-failure messages it kept, so
the ``replay-kept-messages`` alarm sees what only an operator can resolve."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from prometheus_client import CollectorRegistry

from alarms.spec import REPLAY_KEPT_MESSAGES, RULES
from reconciler.handler.replay import BatchReplayer
from reconciler.handler.replay_queue import ReplayJob
from reconciler.kernel import deployment_spec as spec
from reconciler.reconcile.publisher import SummaryPublisher
from reconciler.reconcile.summary import PassSummary
from reconciler.serve.replay import CloudWatchReplayReport, ReplayingRunner, ReplayMetrics

NAMESPACE = "Test/Reconciler"


class OneMalformedMessage:
    """A queue holding one message that is not Lambda's on-failure message: always kept."""

    def __init__(self, calls: list[str]) -> None:
        self.calls = calls
        self.messages = [{"MessageId": "m-1", "ReceiptHandle": "h-1", "Body": "{}"}]

    def receive_message(self, **_: Any) -> dict[str, Any]:
        self.calls.append("receive")
        messages, self.messages = self.messages, []
        return {"Messages": messages}


class UnreachableQueue:
    def receive_message(self, **_: Any) -> dict[str, Any]:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": ""}}, "ReceiveMessage")


class RecordingCloudWatch:
    def __init__(self, calls: list[str], *, fail: bool = False) -> None:
        self.calls = calls
        self.fail = fail
        self.sent: dict[str, float] = {}

    def put_metric_data(self, *, Namespace: str, MetricData: list[dict[str, Any]]) -> None:  # noqa: N803
        self.calls.append("put")
        if self.fail:
            raise ClientError({"Error": {"Code": "Throttling", "Message": ""}}, "PutMetricData")
        assert Namespace == NAMESPACE
        self.sent = {datum["MetricName"]: datum["Value"] for datum in MetricData}


class Pass:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def run_pass(self, control: object = None, run_id: str | None = None) -> PassSummary:
        self.calls.append("pass")
        return PassSummary(run_id=run_id or "r")


def runner(calls: list[str], queue: Any, cloudwatch: RecordingCloudWatch) -> ReplayingRunner:
    replayer = BatchReplayer(lambda _: [], lambda event, context: None)
    report = CloudWatchReplayReport(SummaryPublisher(cloudwatch, NAMESPACE))  # type: ignore[arg-type]
    return ReplayingRunner(
        Pass(calls),
        lambda: ReplayJob(queue, "url", replayer, wait_seconds=0),
        ReplayMetrics(CollectorRegistry()),
        report,
    )


def test_a_kept_message_is_reported_to_cloudwatch_before_the_pass_runs() -> None:
    calls: list[str] = []
    cloudwatch = RecordingCloudWatch(calls)

    runner(calls, OneMalformedMessage(calls), cloudwatch).run_pass(run_id="r1")

    assert cloudwatch.sent == {spec.METRIC_REPLAY_KEPT: 1.0, spec.METRIC_REPLAYED: 0.0}
    assert calls[-2:] == ["put", "pass"]


def test_a_drain_cut_short_reports_nothing_rather_than_a_partial_count() -> None:
    calls: list[str] = []
    cloudwatch = RecordingCloudWatch(calls)

    summary = runner(calls, UnreachableQueue(), cloudwatch).run_pass(run_id="r1")

    assert calls == ["pass"]
    assert not summary.failed


def test_cloudwatch_refusing_the_report_never_fails_the_pass() -> None:
    calls: list[str] = []
    cloudwatch = RecordingCloudWatch(calls, fail=True)

    summary = runner(calls, OneMalformedMessage(calls), cloudwatch).run_pass(run_id="r1")

    assert calls[-2:] == ["put", "pass"]
    assert not summary.failed


def test_the_alarm_watches_the_metric_the_replay_publishes() -> None:
    (rule,) = [rule for rule in RULES if rule.key == REPLAY_KEPT_MESSAGES]
    assert rule.source == "reconciler"
    assert rule.metric == spec.METRIC_REPLAY_KEPT
    assert (rule.statistic, rule.comparison, rule.threshold) == (
        "Maximum",
        "GreaterThanThreshold",
        0,
    )
    assert rule.treat_missing_data == "notBreaching"
