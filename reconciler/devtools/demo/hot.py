"""Acts 4 and 5: a hot event broken and repaired while its registrations keep coming.

The pump now follows the stream (from ``LATEST``) with an on-failure queue, as the deployed
mapping runs; a thread registers an attendee every ``hot_interval`` seconds. Act 4 makes one
batch fail on every attempt, so the mapping drops it and sends Lambda's on-failure message,
and the real replay code applies exactly that range again. Act 5 hand-edits the counter, and
ledger-mode passes repair it without waiting for the event to go quiet. Then the traffic
stops and the pump drains the stream. The event is backfilled before its first registration,
as ``reconciler init --backfill`` would leave it, so the reconciler checks it in ledger mode.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import TextIO

from reconciler.devtools.demo.hot_report import render_drop, render_edit_start, render_pass
from reconciler.devtools.demo.hot_world import (
    DeliveryTap,
    HotLook,
    HotTraffic,
    look,
    wait_until,
)
from reconciler.devtools.demo.options import HOT_EVENT, DemoOptions, demo_table
from reconciler.devtools.demo.passes import reconcile
from reconciler.devtools.demo.traffic import hand_edit_counter, seed_events
from reconciler.devtools.pump import PumpConfig, PumpStats, StreamPump, handler_pump
from reconciler.handler.emf import MetricTotals
from reconciler.handler.entry import HandlerSettings
from reconciler.handler.replay_queue import ReplayJob, ReplaySummary, handler_replayer
from reconciler.kernel.aws import Clients
from reconciler.kernel.errors import ReconcilerError
from reconciler.kernel.ledger import LedgerModel
from reconciler.kernel.model import EventKey
from reconciler.reconcile.audit import AuditRecord
from reconciler.reconcile.backfill import Backfill, BackfillOptions
from reconciler.reconcile.backfill_dynamo import DynamoAttendeeHashes, DynamoLedgerClaims
from reconciler.reconcile.settings import RunSettings
from reconciler.reconcile.summary import PassSummary

DROP_TIMEOUT = 30.0
"""Seconds to wait for the doomed batch to be dropped before the demo gives up."""


class DemoStalledError(ReconcilerError):
    """Something the demo waits for did not happen (the machine is far too slow, or a bug)."""


@dataclass(frozen=True, slots=True)
class DropAct:
    """Act 4: a batch dropped after its retries, and its replay."""

    records: int
    """Registrations in the dropped batch."""
    invocations: int
    """Attempts at the batch, all failed."""
    messages: int
    broken: HotLook
    replay: ReplaySummary
    repaired: HotLook


@dataclass(frozen=True, slots=True)
class PassStep:
    number: int
    summary: PassSummary
    corrections: list[AuditRecord]
    look: HotLook
    registrations_during: int
    traffic_alive: bool
    """Whether the registration thread was still running when the pass ended."""


@dataclass(slots=True)
class EditAct:
    """Act 5: a hand edit, and the passes until the counter is exact."""

    value: int
    broken: HotLook
    passes: list[PassStep] = field(default_factory=list)

    @property
    def repaired_under_traffic(self) -> bool:
        """The counter was exact after a pass that ended with the traffic still running."""
        return any(step.look.exact and step.traffic_alive for step in self.passes)


@dataclass(slots=True)
class HotResult:
    key: EventKey
    queue_url: str
    drop: DropAct
    edit: EditAct
    registrations: int
    pump: PumpStats
    traffic_failure: str | None
    """Why the registration thread ended early, if it did."""


def backfill_event(clients: Clients, table_name: str, key: EventKey) -> None:
    """The event's ledger marked complete (it has no attendees yet), so passes use it."""
    tables = demo_table(table_name)
    dynamodb = clients.dynamodb()
    summary = Backfill(
        DynamoAttendeeHashes(dynamodb, tables.table_name, tables.model),
        DynamoLedgerClaims(dynamodb, tables.state_table, LedgerModel()),
        BackfillOptions(settle_seconds=0.0),
    ).run([key.slug])
    if summary.failed:
        raise DemoStalledError(f"the backfill of {key.slug} failed: {summary.error}")


class _Follower:
    """The pump following the stream on its own thread, as the mapping polls."""

    def __init__(self, pump: StreamPump) -> None:
        self._pump = pump
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-hot-pump", daemon=True)
        self.failure: BaseException | None = None

    def _run(self) -> None:
        try:
            self._pump.follow(self._stop.is_set)
        except Exception as exc:  # noqa: BLE001 - re-raised by stop(), on the demo's thread
            self.failure = exc

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=60)
        if self.failure is not None:
            raise self.failure


class HotStage:
    """The table, the traffic, the tapped pump and the queue of acts 4 and 5."""

    def __init__(
        self, clients: Clients, table_name: str, stream_arn: str, options: DemoOptions
    ) -> None:
        self.clients = clients
        self.table_name = table_name
        self.options = options
        self.key = HOT_EVENT
        self.handler_settings = HandlerSettings(demo_table(table_name))
        queue = clients.sqs().create_queue(QueueName=f"{table_name}-on-failure")
        self.queue_url = str(queue["QueueUrl"])
        self.gate = threading.Lock()
        self.tap = DeliveryTap(self.gate)
        self.pump = handler_pump(
            self.handler_settings,
            clients,
            stream_arn,
            MetricTotals(),
            config=PumpConfig(
                batch_size=options.batch_size,
                batching_window=options.hot_batching_window,
                bisect_on_error=False,
                starting_position="LATEST",
                poll_interval=0.05,
                reopen_iterators=True,
            ),
            on_failure_queue_url=self.queue_url,
            around=self.tap.around,
        )
        self.traffic = HotTraffic(
            clients,
            table_name,
            self.key,
            interval=options.hot_interval,
            gate=self.gate,
            seed=options.seed,
        )
        self.follower = _Follower(self.pump)

    def look(self) -> HotLook:
        return look(
            self.clients,
            self.table_name,
            self.key,
            traffic=self.traffic,
            tap=self.tap,
            gate=self.gate,
        )

    def start(self) -> None:
        seed_events(self.clients, self.table_name, (self.key,))
        backfill_event(self.clients, self.table_name, self.key)
        self.pump.step()  # its iterators are at LATEST before the first registration
        self.follower.start()
        self.traffic.start()

    def stop(self) -> None:
        """Traffic first, then the pump delivers everything the stream still holds."""
        self.traffic.stop()
        self.follower.stop()
        self.pump.drain()

    def dropped_batch(self) -> DropAct:
        time.sleep(self.options.hot_warmup)
        self.tap.fail_next_batch()
        if not wait_until(lambda: self.pump.stats.on_failure_messages >= 1, DROP_TIMEOUT):
            raise DemoStalledError(f"no batch was dropped within {DROP_TIMEOUT:g} s")
        broken = self.look()
        replayer = handler_replayer(self.handler_settings, self.clients, MetricTotals())
        replay = ReplayJob(self.clients.sqs(), self.queue_url, replayer).drain()
        return DropAct(
            records=len(self.tap.dropped),
            invocations=self.tap.failed_invocations,
            messages=self.pump.stats.on_failure_messages,
            broken=broken,
            replay=replay,
            repaired=self.look(),
        )

    def hand_edit(self, out: TextIO) -> EditAct:
        options = self.options
        settings = RunSettings(
            table=demo_table(self.table_name),
            event=self.key.slug,
            settle_seconds=options.hot_settle_seconds,
        )
        hand_edit_counter(self.clients, self.table_name, self.key, options.hot_hand_edit)
        act = EditAct(options.hot_hand_edit, self.look())
        print(render_edit_start(self.key, act, options), file=out, flush=True)
        for number in range(1, options.hot_max_passes + 1):
            written = self.traffic.written
            summary, corrections = reconcile(self.clients, settings)
            step = PassStep(
                number=number,
                summary=summary,
                corrections=corrections,
                look=self.look(),
                registrations_during=self.traffic.written - written,
                traffic_alive=self.traffic.alive,
            )
            act.passes.append(step)
            print(render_pass(step), file=out, flush=True)
            if step.look.exact and number >= options.hot_min_passes:
                break
        return act


def run_hot(
    clients: Clients, table_name: str, stream_arn: str, options: DemoOptions, out: TextIO
) -> HotResult:
    stage = HotStage(clients, table_name, stream_arn, options)
    stage.start()
    try:
        drop = stage.dropped_batch()
        print(render_drop(stage.key, stage.queue_url, drop, options), file=out, flush=True)
        edit = stage.hand_edit(out)
    finally:
        stage.stop()
    return HotResult(
        key=stage.key,
        queue_url=stage.queue_url,
        drop=drop,
        edit=edit,
        registrations=stage.traffic.written,
        pump=stage.pump.stats,
        traffic_failure=stage.traffic.failure,
    )
