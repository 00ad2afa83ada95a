"""The HTTP port: /metrics from the injected registry, /healthz, /readyz from the probe."""

from __future__ import annotations

import socket
import threading
from collections.abc import Iterator

import pytest
import requests
from prometheus_client import CollectorRegistry

from reconciler.serve.http import HttpServer, Readiness
from reconciler.serve.metrics import ReconcilerMetrics


class SwitchableProbe:
    def __init__(self) -> None:
        self.readiness = Readiness(True, {"consecutive_failures": 0})

    def __call__(self) -> Readiness:
        return self.readiness


@pytest.fixture
def probe() -> SwitchableProbe:
    return SwitchableProbe()


@pytest.fixture
def server(probe: SwitchableProbe) -> Iterator[HttpServer]:
    registry = CollectorRegistry()
    ReconcilerMetrics(registry)
    http = HttpServer(registry, probe, host="127.0.0.1", port=0)
    http.start()
    yield http
    http.stop()


def test_metrics_are_served_from_the_injected_registry_only(server):
    response = requests.get(f"{server.url}/metrics", timeout=5)
    assert response.status_code == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    assert "reconciler_runs_total" in response.text
    # a fresh registry: no process or platform collectors of the global default registry
    assert "python_gc_objects_collected_total" not in response.text


def test_openmetrics_is_served_when_prometheus_asks_for_it(server):
    response = requests.get(
        f"{server.url}/metrics",
        headers={"Accept": "application/openmetrics-text; version=1.0.0"},
        timeout=5,
    )
    assert response.headers["Content-Type"].startswith("application/openmetrics-text")
    assert response.text.rstrip().endswith("# EOF")


def test_healthz_answers_json_while_the_process_lives(server):
    response = requests.get(f"{server.url}/healthz", timeout=5)
    assert response.status_code == 200
    assert response.json() == {"status": "ok"}


def test_readyz_is_200_when_ready_and_503_with_the_reason_when_not(server, probe):
    ready = requests.get(f"{server.url}/readyz", timeout=5)
    assert ready.status_code == 200
    assert ready.json() == {"ready": True, "consecutive_failures": 0}

    probe.readiness = Readiness(False, {"consecutive_failures": 4, "scheduler_running": True})
    not_ready = requests.get(f"{server.url}/readyz", timeout=5)
    assert not_ready.status_code == 503
    assert not_ready.json()["ready"] is False
    assert not_ready.json()["consecutive_failures"] == 4


def test_unknown_path_is_a_json_404(server):
    response = requests.get(f"{server.url}/admin", timeout=5)
    assert response.status_code == 404
    assert "/metrics" in response.json()["paths"]


def test_port_zero_binds_a_free_port_and_reports_it(server):
    assert server.port > 0
    assert server.url == f"http://127.0.0.1:{server.port}"


def test_a_server_stopped_before_it_started_frees_its_port_at_once():
    http = HttpServer(CollectorRegistry(), SwitchableProbe(), host="127.0.0.1", port=0)
    port = http.port
    stopper = threading.Thread(target=http.stop)
    stopper.start()
    stopper.join(timeout=10)
    assert not stopper.is_alive()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", port))
