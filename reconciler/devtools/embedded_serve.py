"""A short ``serve`` loop inside another program: the hook ``reconciler demo`` ends with.

It runs the same app as ``reconciler serve`` (real HTTP port, real scheduler, real passes) for
a few seconds and reads ``/metrics`` back over HTTP, so what the demo prints is what
Prometheus would scrape.
"""

from __future__ import annotations

import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from prometheus_client import CollectorRegistry
from prometheus_client.parser import text_string_to_metric_families

from reconciler.serve.app import build_app
from reconciler.serve.scheduler import Schedule
from reconciler.serve.settings import LeaseSettings, ServeSettings

if TYPE_CHECKING:
    from reconciler.kernel.aws import Clients
    from reconciler.reconcile.settings import RunSettings

SAMPLED = (
    'reconciler_runs_total{outcome="success"}',
    'reconciler_runs_total{outcome="failure"}',
    "reconciler_last_success_timestamp_seconds",
    "reconciler_events_checked_total",
    "reconciler_events_in_drift",
    'reconciler_corrections_total{outcome="applied"}',
    "reconciler_leader",
    "reconciler_corrections_paused",
)
"""The samples :func:`serve_for` returns, in display order."""

DEMO_LEASE = LeaseSettings(duration_seconds=3.0, heartbeat_seconds=1.0)
"""A lease short enough that a few seconds of demo show it acquired and renewed."""


@dataclass(frozen=True, slots=True)
class ServeSample:
    metrics_url: str
    values: dict[str, float] = field(default_factory=dict)
    """``name{label="value"}`` -> value, for the names in :data:`SAMPLED`."""
    exposition: str = ""
    clean_shutdown: bool = True


def parse_samples(exposition: str, wanted: tuple[str, ...] = SAMPLED) -> dict[str, float]:
    found: dict[str, float] = {}
    for family in text_string_to_metric_families(exposition):
        for sample in family.samples:
            labels = ",".join(f'{k}="{v}"' for k, v in sorted(sample.labels.items()))
            key = f"{sample.name}{{{labels}}}" if labels else sample.name
            if key in wanted:
                found[key] = float(sample.value)
    return {key: found[key] for key in wanted if key in found}


def serve_for(
    run: RunSettings,
    clients: Clients,
    seconds: float,
    *,
    port: int = 0,
    host: str = "127.0.0.1",
    every: float = 2.0,
    lease: bool = True,
    on_ready: Callable[[str], None] | None = None,
) -> ServeSample:
    """Serve for ``seconds`` (a pass at start, then every ``every`` seconds), then stop
    gracefully and return the ``/metrics`` URL and the sampled values read over HTTP.

    ``on_ready`` is called with the metrics URL as soon as the port is open, so the caller can
    print it while the loop runs. Every setting not given here is ``reconciler serve``'s
    default (:class:`ServeSettings`).
    """
    settings = ServeSettings(
        schedule=Schedule(every=every, run_at_start=True),
        host=host,
        port=port,
        shutdown_timeout=max(10.0, run.settle_seconds + 5.0),
        lease=DEMO_LEASE if lease else None,
    )
    app = build_app(run, settings, clients, CollectorRegistry())
    try:
        app.start()
        if on_ready is not None:
            on_ready(app.metrics_url)
        app.wait(timeout=seconds)
        # let a pass that is running finish, so the sample shows its result
        app.job.wait_idle(settings.shutdown_timeout)
        with urllib.request.urlopen(app.metrics_url, timeout=5) as response:  # noqa: S310
            exposition = response.read().decode()
    finally:
        clean = app.shutdown()
    return ServeSample(app.metrics_url, parse_samples(exposition), exposition, clean)
