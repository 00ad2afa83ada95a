"""A pass (``reconciler/reconcile/reconciler.py``) wired to the in-memory fakes, shared by the
pass, controls and memory tests so each of them states only what differs: the table, the
brake, the options."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Protocol

from reconciler.reconcile.audit import FanOutAuditSink, FanOutKeyAuditSink, JsonLinesAuditSink
from reconciler.reconcile.core import BrakePolicy, Shard
from reconciler.reconcile.pass_control import PassControl
from reconciler.reconcile.reconciler import PassOptions, Reconciler
from reconciler.reconcile.scan_core import SweepMode
from reconciler.reconcile.settings import DEFAULT_MAX_KEY_SUSPECTS
from reconciler.reconcile.spool import SPOOL_IN_MEMORY
from reconciler.reconcile.summary import PassSummary
from tests.fakes.reconcile import FakeClock, FakeReconcileTable, RecordingAuditSink
from tests.fakes.reconcile_ledger import FakeLedger

NO_BRAKE = BrakePolicy(max_corrections=1000, max_ratio=1.0, min_events_for_ratio=1000)
SETTLE = 120.0
WALL = datetime(2024, 10, 27, 9, 30, tzinfo=UTC)


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


def ledger_world() -> FakeLedger:
    return FakeLedger(FakeReconcileTable())


def run_ledger(
    ledger: FakeLedger,
    *,
    control: PassControl | None = None,
    brake: BrakePolicy = NO_BRAKE,
    dry_run: bool = False,
    clock: FakeClock | None = None,
    max_key_suspects: int = DEFAULT_MAX_KEY_SUSPECTS,
    audit_file: JsonLinesAuditSink | None = None,
    audit: RecordingAuditSink | None = None,
    wall: datetime = WALL,
    sweep: SweepMode = SweepMode.QUERY,
    concurrency: int = 2,
    spool_limit: int = SPOOL_IN_MEMORY,
) -> tuple[PassSummary, RecordingAuditSink]:
    """One pass in ledger mode over ``ledger`` (and the classic path for its other events);
    with ``audit_file``, its records go there too and its open intents are resolved first."""
    clock = clock or FakeClock()
    audit = audit or RecordingAuditSink()
    files = () if audit_file is None else (audit_file,)
    reconciler = Reconciler(
        events=ledger.table,
        table=ledger.table,
        audit=FanOutAuditSink(audit, *files),
        options=PassOptions(
            SETTLE, concurrency, brake, dry_run, sweep=sweep, max_key_suspects=max_key_suspects
        ),
        clock=clock,
        sleep=clock.sleep,
        wall=lambda: wall,
        ledger=ledger,
        key_audit=FanOutKeyAuditSink(audit, *files),
        intents=audit_file,
        scan=ledger.table,
        spool_limit=spool_limit,
    )
    return reconciler.run_pass(control), audit


Script = list[tuple[tuple[object, ...], bool]]
"""Steps of a property test's world and whether the next one is chained to it."""


class Playable(Protocol):
    """A property test's world: its script's steps run at every port call of a pass."""

    script: Script

    def step(self) -> None: ...

    def quiesce(self) -> None: ...

    def exact(self) -> bool: ...

    def run_pass(self) -> None: ...


def play(system: Playable, script: Script) -> None:
    """Every step of ``script``, then no more traffic, then at most two passes to end exact."""
    system.script = list(script)
    while system.script:
        system.step()
    system.quiesce()
    for _ in range(2):
        if system.exact():
            break
        system.run_pass()
