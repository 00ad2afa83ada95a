"""The MonitoringStack's CloudWatch dashboard graphs only metrics that something publishes.

"Published" is read from the publishers themselves, not from a list kept here: the handler's
EMF line (``BatchCounts.metrics``), the reconciler's per-pass and per-replay datapoints
(``summary_datums``, ``replay_datums``), and the Lambda and SQS metrics the alarm spec watches.
cfn-lint checks the template with the rest of the app in ``test_cfn_lint.py``.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from alarms.spec import SpecParameters, build_specs
from reconciler.handler.batch import BatchCounts
from reconciler.handler.replay_queue import ReplaySummary
from reconciler.kernel import deployment_spec as deployed
from reconciler.reconcile.publisher import summary_datums
from reconciler.reconcile.summary import PassSummary
from reconciler.serve.replay import replay_datums
from tests.deploy.conftest import CDK_GROUP, Synth
from tests.deploy.test_monitoring_stack import synthesize

pytestmark = CDK_GROUP

RECONCILER = deployed.RECONCILER_METRICS_NAMESPACE
HANDLER = deployed.HANDLER_METRICS_NAMESPACE


def published() -> set[tuple[str, str]]:
    """(namespace, metric) of everything the system publishes or the alarms watch."""
    alarms = build_specs(
        SpecParameters(
            function_name=deployed.HANDLER_FUNCTION_NAME,
            timeout_seconds=deployed.HANDLER_TIMEOUT_SECONDS,
            on_failure_queue_name=deployed.ON_FAILURE_QUEUE_NAME,
            reconciler_namespace=RECONCILER,
        )
    )
    reconciler = (*summary_datums(PassSummary(run_id="r")), *replay_datums(ReplaySummary()))
    return (
        {(alarm.namespace, alarm.metric) for alarm in alarms}
        | {(HANDLER, name) for name in BatchCounts().metrics()}
        | {(RECONCILER, datum.name) for datum in reconciler}
    )


def dashboard_body(template: dict[str, Any]) -> dict[str, Any]:
    """The dashboard's JSON, each CloudFormation token (the region) replaced by a placeholder."""
    (dashboard,) = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::CloudWatch::Dashboard"
    ]
    body = dashboard["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    return dict(json.loads("".join(p if isinstance(p, str) else "TOKEN" for p in parts)))


def graphed(body: dict[str, Any]) -> list[tuple[str, str]]:
    """(namespace, metric) of every line of every graph, CloudWatch's "." shorthand resolved."""
    lines: list[tuple[str, str]] = []
    for widget in body["widgets"]:
        previous: list[Any] = []
        for metric in widget["properties"].get("metrics", []):
            fields = [f for f in metric if not isinstance(f, dict)]
            fields = [previous[i] if f == "." else f for i, f in enumerate(fields)]
            previous = fields
            lines.append((fields[0], fields[1]))
    return lines


def graph(body: dict[str, Any], title_start: str) -> dict[str, Any]:
    (widget,) = [
        w["properties"]
        for w in body["widgets"]
        if w["properties"].get("title", "").startswith(title_start)
    ]
    return dict(widget)


def test_the_app_has_one_dashboard_named_after_the_alarm_prefix(synth: Synth):
    template = synth.template("monitoring")
    template.resource_count_is("AWS::CloudWatch::Dashboard", 1)
    template.has_resource_properties(
        "AWS::CloudWatch::Dashboard", {"DashboardName": "attendee-counter"}
    )


def test_every_graphed_metric_is_published_or_watched_by_an_alarm(synth: Synth):
    lines = graphed(dashboard_body(synth.raw("monitoring")))
    assert len(lines) > 20
    assert set(lines) - published() == set()


def test_the_dashboard_covers_the_handler_the_reconciler_and_the_queue(synth: Synth):
    names = {metric for _, metric in graphed(dashboard_body(synth.raw("monitoring")))}
    assert {
        deployed.METRIC_RECORDS_INSERT,
        deployed.METRIC_COUNTER_UPDATES,
        deployed.METRIC_PARTIAL_BATCH_FAILURES,
        deployed.METRIC_MALFORMED_RECORDS,
        "Duration",
        "IteratorAge",
        deployed.METRIC_PASSES,
        deployed.METRIC_DRIFT_OVER,
        deployed.METRIC_DRIFT_UNDER,
        deployed.METRIC_CORRECTED,
        deployed.METRIC_CONFLICTS,
        deployed.METRIC_IN_FLUX,
        deployed.METRIC_CONSUMED_READ_UNITS,
        "ApproximateNumberOfMessagesVisible",
        deployed.METRIC_REPLAYED,
    } <= names


def test_duration_is_drawn_against_the_timeout_and_its_alarm(synth: Synth):
    duration = graph(dashboard_body(synth.raw("monitoring")), "Duration vs")
    lines = {a["label"]: a["value"] for a in duration["annotations"]["horizontal"]}
    timeout_ms = deployed.HANDLER_TIMEOUT_SECONDS * 1000
    assert lines == {"timeout": timeout_ms, "alarm handler-duration": timeout_ms * 0.8}


def test_iterator_age_is_drawn_against_its_alarm_threshold(synth: Synth):
    age = graph(dashboard_body(synth.raw("monitoring")), "Iterator age")
    assert age["annotations"]["horizontal"][0]["value"] == 120_000


def test_without_queue_or_namespace_only_the_handler_is_graphed(tmp_path: Path):
    lines = graphed(dashboard_body(synthesize(tmp_path).template))
    assert {namespace for namespace, _ in lines} == {HANDLER, "AWS/Lambda"}
