"""The demo hook: ``serve_for`` runs a short real serve loop and samples /metrics over HTTP."""

from __future__ import annotations

import pytest
import requests

from reconciler.devtools.embedded_serve import serve_for
from reconciler.kernel.model import TableModel
from reconciler.kernel.settings import TableSettings
from reconciler.reconcile.settings import RunSettings
from tests.integration.serve_support import seed, stored_count

pytestmark = pytest.mark.slow


def test_serve_for_reconciles_and_reports_sampled_metrics(clients, table_name):
    seeded = seed(clients, table_name, events=4, drifted=1)
    run = RunSettings(table=TableSettings(table_name, TableModel()), settle_seconds=0.1)
    urls: list[str] = []

    sample = serve_for(run, clients, seconds=1.5, every=0.5, on_ready=urls.append)

    assert urls == [sample.metrics_url]
    assert sample.clean_shutdown
    assert sample.values['reconciler_runs_total{outcome="success"}'] >= 1
    assert sample.values["reconciler_last_success_timestamp_seconds"] > 0
    assert sample.values['reconciler_corrections_total{outcome="applied"}'] == 1
    assert sample.values["reconciler_leader"] == 1
    assert stored_count(clients, table_name, seeded.drifted[0]) == seeded.attendees_per_event
    # the port is closed after the loop
    with pytest.raises(requests.ConnectionError):
        requests.get(sample.metrics_url, timeout=1)
