"""A real Prometheus scrapes a running ``serve`` that reconciles a moto table.

Uses Debian's ``prometheus`` binary (installed by ``make tools``) on loopback with temporary
storage and a 1 s scrape interval, configured from the shipped example scrape config and alert
rules, and reads the results back through Prometheus' HTTP query API.
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
import yaml
from prometheus_client import CollectorRegistry

from reconciler.kernel.model import TableModel
from reconciler.kernel.settings import TableSettings
from reconciler.reconcile.settings import RunSettings
from reconciler.serve.app import ServeApp, ServeSettings, build_app
from reconciler.serve.scheduler import Schedule
from tests.integration.serve_support import Seeded, free_port, seed, wait_for

PROMETHEUS = shutil.which("prometheus")
DEPLOY = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(
        PROMETHEUS is None,
        reason="prometheus is not on PATH: run `make tools` (apt package prometheus)",
    ),
]


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
    config = yaml.safe_load((DEPLOY / "prometheus.yml").read_text())
    config["global"] = {"scrape_interval": "1s", "evaluation_interval": "1s"}
    config["rule_files"] = [str(DEPLOY / name) for name in config["rule_files"]]
    config["scrape_configs"][0]["static_configs"] = [{"targets": [f"127.0.0.1:{app.http.port}"]}]
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config))
    port = free_port()
    assert PROMETHEUS is not None
    process = subprocess.Popen(
        [
            PROMETHEUS,
            f"--config.file={config_file}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / "prometheus.log").open("w"),
    )
    url = f"http://127.0.0.1:{port}"
    try:

        def ready() -> bool:
            assert process.poll() is None, (tmp_path / "prometheus.log").read_text()
            try:
                return requests.get(f"{url}/-/ready", timeout=1).status_code == 200
            except requests.ConnectionError:
                return False

        wait_for(ready, 20, what="prometheus /-/ready")
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)


def query(url: str, expr: str) -> list[dict[str, Any]]:
    response = requests.get(f"{url}/api/v1/query", params={"query": expr}, timeout=5)
    response.raise_for_status()
    body = response.json()
    assert body["status"] == "success", body
    return list(body["data"]["result"])


def scalar(url: str, expr: str) -> float | None:
    result = query(url, expr)
    return float(result[0]["value"][1]) if result else None


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
