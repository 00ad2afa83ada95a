"""``run --cloudwatch-namespace``: each pass's summary reaches CloudWatch for the alarms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from reconciler.kernel.deployment_spec import METRIC_DRIFTED, METRIC_FAILED_PASSES
from tests.integration.test_reconcile_cli import run_cli, seed
from tests.integration.traffic import Table

NAMESPACE = "AttendeeCounter/Reconciler"


@pytest.fixture
def table(clients: Any, table_name: str) -> Table:
    return Table(clients, table_name)


def datapoint_sum(clients: Any, metric: str) -> float:
    now = datetime.now(UTC)
    stats = clients.cloudwatch().get_metric_statistics(
        Namespace=NAMESPACE,
        MetricName=metric,
        StartTime=now - timedelta(minutes=10),
        EndTime=now + timedelta(minutes=1),
        Period=60,
        Statistics=["Sum"],
    )
    return sum(point["Sum"] for point in stats["Datapoints"])


def test_a_pass_publishes_its_summary_to_the_configured_namespace(
    table: Table, clients: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN two drifted events and one exact one
    seed(table, drifted=2, exact=1)
    # WHEN one pass runs with a CloudWatch namespace
    code, summary, _ = run_cli(capsys, table, "--cloudwatch-namespace", NAMESPACE)
    # THEN the pass's drift and its success are in CloudWatch
    assert code == 0
    assert summary is not None
    assert summary["drifted"] == 2
    assert datapoint_sum(clients, METRIC_DRIFTED) == 2
    assert datapoint_sum(clients, METRIC_FAILED_PASSES) == 0
    names = {
        m["MetricName"] for m in clients.cloudwatch().list_metrics(Namespace=NAMESPACE)["Metrics"]
    }
    assert METRIC_FAILED_PASSES in names


def test_without_a_namespace_nothing_is_published(
    table: Table, clients: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(table, drifted=1)
    code, _, _ = run_cli(capsys, table)
    assert code == 0
    assert clients.cloudwatch().list_metrics(Namespace=NAMESPACE)["Metrics"] == []


@pytest.mark.parametrize("namespace", ["AWS/Lambda", "bad namespace!"])
def test_an_unusable_namespace_is_a_setting_error(
    table: Table, capsys: pytest.CaptureFixture[str], namespace: str
) -> None:
    code, summary, err = run_cli(capsys, table, "--cloudwatch-namespace", namespace)
    assert code == 2
    assert summary is None
    assert "--cloudwatch-namespace" in err
