"""The demo's acts, each step a function, composed by :func:`run_demo`.

1. ``local_moto.local_aws`` starts moto in-process on a free loopback port;
2. :func:`create_demo_table` creates the table as the StatefulStack deploys it;
3. ``traffic.seed_events`` writes the event items (both partitions, a prefix pair of slugs);
4. ``traffic.write_traffic`` registers, updates and removes attendees (fake personal data),
   some for an event that does not exist;
5. :func:`pump_stream` feeds the stream through the real handler with injected duplicates;
6. ``report.measure`` compares every stored count with the attendee items actually there,
   and ``report.render_report`` prints it;
7. ``traffic.hand_edit_counter`` overwrites one counter, as an operator fixing "by hand" would;
8. ``passes.reconcile`` runs one race-safe pass (short settle window) and collects its audit;
9. :func:`serve_briefly` runs the scheduled worker for a few seconds and samples ``/metrics``;
10. ``hot.run_hot`` breaks a hot event twice while its registrations continue (a dropped batch,
    replayed; a hand edit, repaired by ledger-mode passes), then stops its traffic;
11. ``report.measure`` checks every counter, the hot event's included, one last time.
"""

from __future__ import annotations

import uuid
from typing import TextIO

from reconciler.devtools.demo.hot import run_hot
from reconciler.devtools.demo.hot_report import render_hot_end
from reconciler.devtools.demo.local_moto import local_aws
from reconciler.devtools.demo.options import (
    DEMO_EVENTS,
    DEMO_REGION,
    DEMO_TABLE,
    HOT_EVENT,
    DemoOptions,
    demo_table,
)
from reconciler.devtools.demo.passes import reconcile
from reconciler.devtools.demo.report import (
    DemoResult,
    measure,
    render_counts,
    render_reconciliation,
    render_report,
    render_serve,
)
from reconciler.devtools.demo.traffic import hand_edit_counter, seed_events, write_traffic
from reconciler.devtools.embedded_serve import ServeSample, serve_for
from reconciler.devtools.local_table import create_state_table, create_table
from reconciler.devtools.pump import PumpConfig, PumpStats, handler_pump
from reconciler.handler.emf import MetricTotals
from reconciler.handler.entry import HandlerSettings
from reconciler.kernel.aws import Clients, local_clients
from reconciler.kernel.ledger import default_state_table
from reconciler.reconcile.settings import RunSettings


def demo_clients(endpoint: str) -> Clients:
    """Clients with dummy credentials pinned to the local endpoint; the environment (and any
    real AWS profile in it) is neither read for credentials nor changed."""
    return local_clients(endpoint, DEMO_REGION, max_attempts=3)


def create_demo_table(clients: Clients, table_name: str) -> str:
    """The registration table and its state table (the handler's ledger); the stream's ARN."""
    dynamodb = clients.dynamodb()
    stream_arn = create_table(dynamodb, table_name)
    create_state_table(dynamodb, default_state_table(table_name))
    return stream_arn


def pump_stream(
    clients: Clients, table_name: str, stream_arn: str, options: DemoOptions
) -> tuple[PumpStats, MetricTotals]:
    """Drain the stream through the real handler, as Lambda would, with injected faults."""
    totals = MetricTotals()
    pump = handler_pump(
        HandlerSettings(demo_table(table_name)),
        clients,
        stream_arn,
        totals,
        config=PumpConfig(batch_size=options.batch_size, batching_window=options.batching_window),
        faults=options.faults,
    )
    return pump.drain(), totals


def demo_run_settings(table_name: str, options: DemoOptions) -> RunSettings:
    return RunSettings(table=demo_table(table_name), settle_seconds=options.settle_seconds)


def serve_briefly(
    clients: Clients, table_name: str, options: DemoOptions, out: TextIO
) -> ServeSample:
    """The scheduled worker for a few seconds, so the operator's view is visible too."""

    def announce(url: str) -> None:
        print(
            f"3. Scheduled worker: reconciler serve --every {options.serve_every:g}s "
            f"for {options.serve_seconds:g} s; metrics at {url}",
            file=out,
            flush=True,
        )

    return serve_for(
        demo_run_settings(table_name, options),
        clients,
        options.serve_seconds,
        port=options.metrics_port,
        every=options.serve_every,
        on_ready=announce,
    )


def run_demo(out: TextIO, options: DemoOptions | None = None) -> DemoResult:
    options = options or DemoOptions()
    table_name = f"{DEMO_TABLE}-{uuid.uuid4().hex[:6]}"
    with local_aws() as endpoint:
        clients = demo_clients(endpoint)
        stream_arn = create_demo_table(clients, table_name)
        seed_events(clients, table_name)
        traffic = write_traffic(clients, table_name, options)
        pump, totals = pump_stream(clients, table_name, stream_arn, options)
        if options.hand_edit is not None:
            hand_edit_counter(clients, table_name, *options.hand_edit)
        rows = measure(clients, table_name)
        result = DemoResult(endpoint, table_name, traffic, pump, totals, rows)
        print(render_report(result), file=out, flush=True)
        if options.hand_edit is not None:
            key, value = options.hand_edit
            print(f"(and {key.sort_key} was set to {value} by hand)", file=out)
        print("", file=out, flush=True)

        result.summary, result.corrections = reconcile(
            clients, demo_run_settings(table_name, options)
        )
        result.repaired = measure(clients, table_name)
        report = render_reconciliation(
            result.summary, result.corrections, result.repaired, options.settle_seconds
        )
        print(report, file=out, flush=True)
        print("", file=out, flush=True)

        if options.serve_seconds > 0:
            result.serve = serve_briefly(clients, table_name, options, out)
            print(render_serve(result.serve), file=out, flush=True)
        if options.hot:
            print("", file=out, flush=True)
            result.hot = run_hot(clients, table_name, stream_arn, options, out)
            print(render_hot_end(result.hot), file=out, flush=True)
            result.final = measure(clients, table_name, (*DEMO_EVENTS, HOT_EVENT))
            print("\n6. Final table, every event once the traffic stopped\n", file=out)
            print("\n".join(render_counts(result.final)), file=out, flush=True)
        verdict = (
            "Every counter is exact."
            if result.all_in_sync
            else "Some counters are still wrong: the demo failed."
        )
        print(f"\n{verdict}", file=out, flush=True)
    return result
