"""A pass (``reconciler/reconcile/reconciler.py``) wired to the in-memory fakes, shared by the
pass, controls and memory tests so each of them states only what differs: the table, the
brake, the options."""

from __future__ import annotations

from datetime import UTC, datetime

from reconciler.reconcile.core import BrakePolicy, Shard
from reconciler.reconcile.reconciler import PassOptions, Reconciler
from reconciler.reconcile.scan_core import SweepMode
from reconciler.reconcile.spool import SPOOL_IN_MEMORY
from tests.fakes.reconcile import FakeClock, FakeReconcileTable, RecordingAuditSink

NO_BRAKE = BrakePolicy(max_corrections=1000, max_ratio=1.0, min_events_for_ratio=1000)
SETTLE = 120.0


def build(
    table: FakeReconcileTable,
    *,
    clock: FakeClock | None = None,
    brake: BrakePolicy = NO_BRAKE,
    dry_run: bool = False,
    event: str | None = None,
    shard: Shard | None = None,
    concurrency: int = 2,
    spool_limit: int = SPOOL_IN_MEMORY,
    sweep: SweepMode | None = None,
) -> tuple[Reconciler, RecordingAuditSink, FakeClock]:
    clock = clock or FakeClock()
    audit = RecordingAuditSink()
    reconciler = Reconciler(
        events=table,
        table=table,
        audit=audit,
        options=PassOptions(
            SETTLE, concurrency, brake, dry_run, event, shard, sweep or SweepMode.QUERY
        ),
        clock=clock,
        sleep=clock.sleep,
        wall=lambda: datetime(2024, 10, 27, 9, 30, tzinfo=UTC),
        spool_limit=spool_limit,
        scan=None if sweep is None else table,
    )
    return reconciler, audit, clock
