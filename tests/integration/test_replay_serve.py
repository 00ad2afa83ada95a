"""``serve --on-failure-queue-url``: the leader replays the dropped batches before its pass,
so the pass finds the counter already exact, and the replay shows in /metrics."""

from __future__ import annotations

import urllib.request

import pytest
from prometheus_client import CollectorRegistry

from reconciler.cli import main
from reconciler.devtools.embedded_serve import parse_samples
from reconciler.kernel.model import TableModel
from reconciler.kernel.settings import TableSettings
from reconciler.reconcile.settings import RunSettings
from reconciler.serve.app import build_app
from reconciler.serve.scheduler import Schedule
from reconciler.serve.settings import ServeSettings
from tests.integration.pump_support import WORKSHOP, registrations
from tests.integration.traffic import Table

pytestmark = pytest.mark.slow

SAMPLED = (
    'reconciler_replay_messages_total{outcome="replayed"}',
    'reconciler_replay_messages_total{outcome="trimmed"}',
    "reconciler_replay_records_total",
    "reconciler_replay_kept_messages",
    'reconciler_runs_total{outcome="success"}',
    'reconciler_corrections_total{outcome="applied"}',
)


def test_serve_replays_the_on_failure_queue_before_its_pass(
    clients, table_name, aws: str, capsys: pytest.CaptureFixture[str]
) -> None:  # type: ignore[no-untyped-def]
    table = Table(clients, table_name)
    table.put_event(WORKSHOP)
    registrations(table, "workshop", 12)
    queue_url = clients.sqs().create_queue(QueueName="on-failure")["QueueUrl"]
    env = {"TABLE_NAME": table_name, "RECONCILER_BATCHING_WINDOW": "0"}
    argv = ["pump", "--endpoint-url", aws, "--batch-size", "5", "--drop-batches", "1"]
    assert main([*argv, "--on-failure-queue-url", queue_url], env=env) == 0
    assert table.stored(WORKSHOP) == 7

    run = RunSettings(table=TableSettings(table_name, TableModel()), settle_seconds=0.1)
    settings = ServeSettings(
        schedule=Schedule(every=60.0, run_at_start=True),
        host="127.0.0.1",
        port=0,
        lease=None,
        on_failure_queue_url=queue_url,
    )
    app = build_app(run, settings, clients, CollectorRegistry())
    try:
        app.start()
        app.wait(timeout=1.0)
        app.job.wait_idle(15.0)
        with urllib.request.urlopen(app.metrics_url, timeout=5) as response:  # noqa: S310
            values = parse_samples(response.read().decode(), SAMPLED)
    finally:
        assert app.shutdown()

    assert table.stored(WORKSHOP) == 12
    assert sum(entry.present for entry in table.ledger("workshop").values()) == 12
    assert values['reconciler_replay_messages_total{outcome="replayed"}'] == 1
    assert values['reconciler_replay_messages_total{outcome="trimmed"}'] == 0
    assert values["reconciler_replay_records_total"] == 5
    assert values["reconciler_replay_kept_messages"] == 0
    assert values['reconciler_runs_total{outcome="success"}'] == 1
    assert values.get('reconciler_corrections_total{outcome="applied"}', 0) == 0
    assert "Messages" not in clients.sqs().receive_message(QueueUrl=queue_url)
