"""A pass's summary lands in CloudWatch under the names the reconciler alarms watch."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from alarms.spec import RECONCILER_DRIFT, RECONCILER_FAILED_PASSES, SpecParameters, build_specs
from reconciler.kernel.aws import Clients, client_config
from reconciler.kernel.errors import EndpointUnreachableError
from reconciler.reconcile.core import BrakeDecision
from reconciler.reconcile.publisher import SummaryPublisher, summary_datums
from reconciler.reconcile.summary import PassSummary

NAMESPACE = "AttendeeCounter/Reconciler"
DEAD = "http://127.0.0.1:9"  # discard port: nothing listens
NOW = datetime(2026, 1, 5, 12, 0, tzinfo=UTC)


def total(clients: Any, metric: str) -> float:
    stats = clients.cloudwatch().get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=metric,
        StartTime=NOW - timedelta(minutes=5),
        EndTime=NOW + timedelta(minutes=5),
        Period=600,
        Statistics=["Sum"],
    )
    return float(sum(point["Sum"] for point in stats["Datapoints"]))


def test_a_pass_summary_is_published_as_metrics(clients: Any) -> None:
    publisher = SummaryPublisher(clients.cloudwatch(), NAMESPACE, clock=lambda: NOW)
    summary = PassSummary(
        run_id="r1", events_checked=40, drifted=3, corrected=2, conflicts=1, in_flux=1
    )

    publisher.publish(summary)

    assert total(clients, "EventsChecked") == 40
    assert total(clients, "Drifted") == 3
    assert total(clients, "Corrected") == 2
    assert total(clients, "Conflicts") == 1
    assert total(clients, "InFlux") == 1
    assert total(clients, "FailedPasses") == 0
    assert total(clients, "Passes") == 1


def test_a_failed_pass_counts_once_and_a_tripped_brake_shows(clients: Any) -> None:
    publisher = SummaryPublisher(clients.cloudwatch(), NAMESPACE, clock=lambda: NOW)

    publisher.publish(PassSummary(run_id="r1", failed=True, error="AwsError"))
    publisher.publish(PassSummary(run_id="r2", brake=BrakeDecision(tripped=True), drifted=500))

    assert total(clients, "FailedPasses") == 1
    assert total(clients, "BrakeTripped") == 1
    assert total(clients, "Passes") == 2


def test_the_reconciler_alarms_watch_metrics_the_publisher_sends() -> None:
    published = {d.name for d in summary_datums(PassSummary(run_id="r"))}
    specs = build_specs(
        SpecParameters(function_name="f", timeout_seconds=60, reconciler_namespace=NAMESPACE)
    )
    watched = {s.metric for s in specs if s.key in {RECONCILER_DRIFT, RECONCILER_FAILED_PASSES}}
    assert watched == {"Drifted", "FailedPasses"}
    assert watched <= published


def test_aws_namespace_is_refused(clients: Any) -> None:
    with pytest.raises(ValueError, match="AWS/"):
        SummaryPublisher(clients.cloudwatch(), "AWS/Lambda")


def test_unreachable_cloudwatch_is_translated_to_our_error() -> None:
    dead = Clients(config=client_config(max_attempts=1, connect_timeout=0.5), endpoint_url=DEAD)
    publisher = SummaryPublisher(dead.cloudwatch(), NAMESPACE, clock=lambda: NOW)
    with pytest.raises(EndpointUnreachableError):
        publisher.publish(PassSummary(run_id="r"))
