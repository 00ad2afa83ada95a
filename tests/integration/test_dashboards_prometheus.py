"""The Grafana dashboard and the rule files against a real ``serve`` and a real Prometheus.

``serve`` runs a pass every 2 seconds over a moto table with two drifted events, replaying an
(empty) on-failure queue before each pass, so every series it can export exists; Prometheus
scrapes it every second and evaluates the shipped alert and SLO rules.
"""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
import requests
from prometheus_client import CollectorRegistry

from deploy.grafana import dashboard
from reconciler.kernel.model import TableModel
from reconciler.kernel.settings import TableSettings
from reconciler.reconcile.settings import RunSettings
from reconciler.serve.app import ServeApp, ServeSettings, build_app
from reconciler.serve.scheduler import Schedule
from tests.integration.prometheus_support import (
    NEEDS_PROMETHEUS,
    query,
    running_prometheus,
    scalar,
)
from tests.integration.serve_support import free_port, seed, wait_for
from tests.unit.test_runbooks import rules

pytestmark = [pytest.mark.slow, NEEDS_PROMETHEUS]

METRIC_NAME = re.compile(r"(?<![\w:])reconciler_[a-z0-9_]+(?![\w:])")
HISTOGRAM_SERIES = re.compile(r"_(bucket|sum|count)$")
GRAFANA_VARIABLES = {'$job"': 'reconciler"', "$__rate_interval": "1m"}


@pytest.fixture
def serving(clients, table_name) -> Iterator[ServeApp]:  # type: ignore[no-untyped-def]
    seed(clients, table_name, events=6, attendees=2, drifted=2)
    queue_url = clients.sqs().create_queue(QueueName="dashboards-on-failure")["QueueUrl"]
    run = RunSettings(table=TableSettings(table_name, TableModel()), settle_seconds=0.1)
    settings = ServeSettings(
        schedule=Schedule(every=2.0, run_at_start=True),
        host="127.0.0.1",
        port=free_port(),
        lease=None,
        on_failure_queue_url=queue_url,
    )
    app = build_app(run, settings, clients, CollectorRegistry())
    app.start()
    try:
        yield app
    finally:
        app.shutdown()


@pytest.fixture
def prometheus(serving, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    with running_prometheus(serving.http.port, tmp_path) as url:
        yield url


def exported_names(exposition: str) -> set[str]:
    """Every metric family and sample name of a /metrics page."""
    names = set()
    for line in exposition.splitlines():
        if line.startswith("# TYPE "):
            names.add(line.split()[2])
        elif line and not line.startswith("#"):
            names.add(re.split(r"[{ ]", line, maxsplit=1)[0])
    return names


def referenced_names() -> set[str]:
    """Every ``reconciler_*`` series named by a dashboard query or a shipped rule."""
    texts = [*dashboard.expressions(), *(rule["expr"] for rule in rules())]
    return {name for text in texts for name in METRIC_NAME.findall(text)}


def grafana_queries() -> list[str]:
    """The dashboard's expressions with its template variables filled in as Grafana would."""
    queries = []
    for expr in dashboard.expressions():
        filled = expr
        for variable, value in GRAFANA_VARIABLES.items():
            filled = filled.replace(variable, value)
        queries.append(filled)
    return queries


def test_every_series_a_dashboard_or_rule_names_is_on_serves_metrics_page(serving):
    exported = exported_names(requests.get(serving.metrics_url, timeout=5).text)
    names = referenced_names()
    assert len(names) > 20
    missing = {
        n for n in names if n not in exported and HISTOGRAM_SERIES.sub("", n) not in exported
    }
    assert missing == set()


def test_every_grafana_query_returns_data_from_prometheus_after_a_few_passes(prometheus):
    def passes_scraped() -> bool:
        increase = scalar(prometheus, 'increase(reconciler_runs_total{outcome="success"}[1m])')
        return bool(increase and increase >= 2)

    wait_for(passes_scraped, 60, interval=0.5, what="two passes scraped by prometheus")

    def empty() -> list[str]:
        return [expr for expr in grafana_queries() if not query(prometheus, expr)]

    wait_for(lambda: not empty(), 30, interval=0.5, what="data for every dashboard query")
    assert empty() == []
    assert (
        scalar(prometheus, "job:reconciler_exactness_error_budget_remaining:ratio30d") is not None
    )


def test_the_slo_rules_load_healthy_and_the_exact_ratio_reflects_the_drift(prometheus):
    wait_for(
        lambda: (scalar(prometheus, "reconciler_sli_events_checked_total") or 0) >= 12,
        60,
        interval=0.5,
        what="two passes' checks",
    )
    groups = requests.get(f"{prometheus}/api/v1/rules", timeout=5).json()["data"]["groups"]
    slo = [
        rule
        for group in groups
        if group["name"].startswith("reconciler-exactness")
        for rule in group["rules"]
    ]
    assert len(slo) == 11
    assert all(rule["health"] != "err" for rule in slo)
    checked = scalar(prometheus, "reconciler_sli_events_checked_total")
    exact = scalar(prometheus, "reconciler_sli_events_exact_total")
    assert checked is not None
    assert exact is not None
    # the first pass found (and corrected) the two drifted events; every later one found none
    assert checked - exact == 2
