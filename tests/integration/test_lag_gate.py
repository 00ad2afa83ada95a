"""The lag gate against moto's CloudWatch, and a real pass it pauses."""

from __future__ import annotations

import datetime as dt
import threading

import pytest
from prometheus_client import CollectorRegistry

from reconciler.kernel.aws import Clients, client_config
from reconciler.kernel.model import TableModel
from reconciler.kernel.settings import TableSettings
from reconciler.reconcile.bootstrap import build_reconciler
from reconciler.reconcile.settings import RunSettings
from reconciler.serve.job import PassJob
from reconciler.serve.lag_gate import CloudWatchIteratorAge, LagGate
from reconciler.serve.metrics import ReconcilerMetrics
from tests.integration.serve_support import seed, stored_count

HANDLER = "updateAttendeeCounter"


def put_iterator_age(clients: Clients, function: str, *ages_ms: float) -> None:
    now = dt.datetime.now(dt.UTC)
    clients.cloudwatch().put_metric_data(
        Namespace="AWS/Lambda",
        MetricData=[
            {
                "MetricName": "IteratorAge",
                "Dimensions": [{"Name": "FunctionName", "Value": function}],
                "Timestamp": now - dt.timedelta(seconds=30 + 60 * index),
                "Value": age,
                "Unit": "Milliseconds",
            }
            for index, age in enumerate(ages_ms)
        ],
    )


def test_reader_returns_the_largest_maximum_of_the_configured_function(clients):
    put_iterator_age(clients, HANDLER, 1_000, 250_000, 4_000)
    put_iterator_age(clients, "someOtherFunction", 9_000_000)
    reader = CloudWatchIteratorAge(clients.cloudwatch())
    assert reader.max_iterator_age_ms(HANDLER, 300) == 250_000


def test_a_handler_with_no_datapoints_leaves_the_gate_open(clients):
    gate = LagGate(CloudWatchIteratorAge(clients.cloudwatch()), HANDLER, 120)
    decision = gate.check()
    assert not decision.paused
    assert decision.reason == "no_datapoints"


def test_a_handler_behind_the_settle_window_closes_the_gate(clients):
    put_iterator_age(clients, HANDLER, 180_000)
    decision = LagGate(CloudWatchIteratorAge(clients.cloudwatch()), HANDLER, 120).check()
    assert decision.paused
    assert decision.iterator_age_seconds == 180.0


def test_an_unreachable_cloudwatch_fails_safe():
    unreachable = Clients(
        config=client_config(max_attempts=1, connect_timeout=1),
        endpoint_url="http://127.0.0.1:9",
    )
    decision = LagGate(CloudWatchIteratorAge(unreachable.cloudwatch()), HANDLER, 120).check()
    assert decision.paused
    assert decision.reason == "cloudwatch_error"


@pytest.mark.parametrize(("age_ms", "paused"), [(600_000, True), (2_000, False)])
def test_a_real_pass_writes_nothing_while_the_handler_is_behind(
    clients, table_name, age_ms, paused
):
    # GIVEN a drifted event and a handler whose IteratorAge is 600 s (or 2 s)
    seeded = seed(clients, table_name, events=2, drifted=1)
    put_iterator_age(clients, HANDLER, age_ms)
    registry = CollectorRegistry()
    metrics = ReconcilerMetrics(registry)
    settings = RunSettings(table=TableSettings(table_name, TableModel()), settle_seconds=0.05)
    reconciler = build_reconciler(settings, clients)
    gate = LagGate(CloudWatchIteratorAge(clients.cloudwatch()), HANDLER, 120)
    job = PassJob(reconciler, metrics, stop=threading.Event(), lag_gate=gate)
    # WHEN a scheduled pass runs
    try:
        job()
    finally:
        reconciler.close()
    # THEN with the handler behind, drift is measured but the counter is left alone
    drifted = seeded.drifted[0]
    expected = seeded.attendees_per_event + (1 if paused else 0)
    assert stored_count(clients, table_name, drifted) == expected
    assert registry.get_sample_value("reconciler_corrections_paused") == (1 if paused else 0)
    assert registry.get_sample_value("reconciler_drift_detected_total", {"direction": "over"}) == 1
    held = registry.get_sample_value("reconciler_corrections_total", {"outcome": "paused"})
    applied = registry.get_sample_value("reconciler_corrections_total", {"outcome": "applied"})
    assert (held, applied) == ((1, 0) if paused else (0, 1))
