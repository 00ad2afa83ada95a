"""A reconciler pass against a moto table on virtual time, beside the real stream handler
driven by the pump: shared by the drift, race and report tests of the pass.

Time is virtual: the pass sleeps on a fake clock, and the clock's sleep hook is where a test
lets the pump deliver stream records, i.e. "while the pass waits for the settle window".
"""

from __future__ import annotations

from typing import Any

from reconciler.devtools.pump import FaultPlan, PumpConfig, StreamPump
from reconciler.kernel.model import EventKey
from reconciler.kernel.settings import TableSettings
from reconciler.reconcile.bootstrap import build_reconciler
from reconciler.reconcile.core import BrakePolicy
from reconciler.reconcile.reconciler import PassControl
from reconciler.reconcile.settings import RunSettings
from reconciler.reconcile.summary import PassSummary
from tests.fakes.reconcile import FakeClock, RecordingAuditSink
from tests.integration.traffic import MODEL, Table

TECH = EventKey("FAD", "tech-summit-2024#2024-10-27#conference")
WORKSHOP = EventKey("EVENT", "workshop#2024-11-15#workshop")
AI = EventKey("EVENT", "workshop-ai#2024-11-16#workshop")
NO_BRAKE = BrakePolicy(max_corrections=1000, max_ratio=1.0, min_events_for_ratio=1000)


def pump_for(table: Table, handler: Any = None, faults: FaultPlan | None = None) -> StreamPump:
    """The local event source mapping with the real handler; no batching wait."""
    live = handler if handler is not None else table.handler()

    def invoke(event: dict[str, Any], context: Any) -> object:
        if callable(live) and not hasattr(live, "handle"):
            return live(event, context)
        return live.handle(event, context.aws_request_id)

    clock = FakeClock()
    return StreamPump(
        table.clients.streams(),
        table.stream_arn(),
        invoke,
        region="us-east-1",
        config=PumpConfig(batching_window=0.0),
        faults=faults,
        clock=clock,
        sleep=clock.sleep,
    )


def register(table: Table, slug: str, count: int, start: int = 0) -> None:
    for i in range(start, start + count):
        table.register(slug, f"{slug}-{i}@example.com")


def settings_for(table: Table, **overrides: Any) -> RunSettings:
    values: dict[str, Any] = {
        "table": TableSettings(table.name, MODEL),
        "settle_seconds": 120.0,
        "concurrency": 2,
        "max_reads_per_second": 0.0,
        "brake": NO_BRAKE,
    }
    values.update(overrides)
    return RunSettings(**values)


def run_pass(
    table: Table,
    *,
    clock: FakeClock | None = None,
    control: PassControl | None = None,
    **overrides: Any,
) -> PassSummary:
    clock = clock or FakeClock()
    reconciler = build_reconciler(
        settings_for(table, **overrides), table.clients, clock=clock, sleep=clock.sleep
    )
    try:
        return reconciler.run_pass(control)
    finally:
        reconciler.close()


def run_with_audit(table: Table, clock: FakeClock, audit: RecordingAuditSink) -> PassSummary:
    reconciler = build_reconciler(
        settings_for(table),
        table.clients,
        clock=clock,
        sleep=clock.sleep,
        extra_audit_sinks=[audit],
    )
    try:
        return reconciler.run_pass()
    finally:
        reconciler.close()
