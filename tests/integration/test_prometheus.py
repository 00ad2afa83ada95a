"""A real Prometheus scrapes a running ``serve`` that reconciles a moto table.

Uses Debian's ``prometheus`` binary (installed by ``make tools``) on loopback with temporary
storage and a 1 s scrape interval, configured from the shipped example scrape config and alert
rules, and reads the results back through Prometheus' HTTP query API.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import requests
from prometheus_client import CollectorRegistry

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
from tests.integration.serve_support import Seeded, free_port, seed, wait_for

pytestmark = [pytest.mark.slow, NEEDS_PROMETHEUS]


@pytest.fixture
def seeded_serve(clients, table_name) -> Iterator[tuple[ServeApp, Seeded]]:  # type: ignore[no-untyped-def]
    seeded = seed(clients, table_name, events=6, attendees=2, drifted=2)
    run = RunSettings(table=TableSettings(table_name, TableModel()), settle_seconds=0.1)
    # one pass at start-up, none after: the counters then equal exactly one pass's work
    settings = ServeSettings(
        schedule=Schedule(every=3600, run_at_start=True), host="127.0.0.1", port=free_port()
    )
    app = build_app(run, settings, clients, CollectorRegistry())
    app.start()
    try:
        yield app, seeded
    finally:
        app.shutdown()


@pytest.fixture
def prometheus(seeded_serve, tmp_path) -> Iterator[str]:  # type: ignore[no-untyped-def]
    app, _ = seeded_serve
    with running_prometheus(app.http.port, tmp_path) as url:
        yield url


def test_prometheus_scrapes_a_serve_pass_over_the_seeded_table(prometheus, seeded_serve):
    _, seeded = seeded_serve

    def pass_scraped() -> bool:
        last_success = scalar(prometheus, "reconciler_last_success_timestamp_seconds")
        checked = scalar(prometheus, "reconciler_events_checked_total")
        return bool(last_success and last_success > 0 and checked == len(seeded.slugs))

    wait_for(pass_scraped, 30, interval=0.5, what="a scraped successful pass")
    assert scalar(prometheus, 'up{job="reconciler"}') == 1
    assert scalar(prometheus, "reconciler_events_in_drift") == len(seeded.drifted)
    applied = 'reconciler_corrections_total{outcome="applied"}'
    assert scalar(prometheus, applied) == len(seeded.drifted)
    assert scalar(prometheus, 'reconciler_drift_detected_total{direction="over"}') == 2
    assert scalar(prometheus, "reconciler_leader") == 1
    assert scalar(prometheus, "reconciler_schedule_interval_seconds") == 3600
    # the no-success rule's expression is evaluable against real data, and quiet
    no_success = (
        "time() - max by (job) (reconciler_last_success_timestamp_seconds)"
        " > 2.5 * max by (job) (reconciler_schedule_interval_seconds)"
    )
    assert query(prometheus, no_success) == []


def test_prometheus_loads_the_shipped_alert_rules(prometheus):
    response = requests.get(f"{prometheus}/api/v1/rules", timeout=5).json()
    groups = {group["name"]: group for group in response["data"]["groups"]}
    names = {rule["name"] for rule in groups["reconciler"]["rules"]}
    assert {"ReconcilerDown", "ReconcilerNoRecentSuccess", "ReconcilerBrakeTripped"} <= names
    assert all(rule["health"] != "err" for rule in groups["reconciler"]["rules"])
