"""The documented roll-out of the ledger, played on a moto table the old handler wrote.

:class:`Migration` is a registration table with no state table, counted by the handler before
the ledger (``tests.fakes.old_handler``) through the local event source mapping, with drift of
its own: batches the mapping dropped, and one event whose ``counterSeq`` was set too high (a
restore). Registration traffic never stops. Then the steps of ``docs/deployment.md``:

1. :meth:`Migration.init`: ``reconciler init`` (the state table);
2. :meth:`Migration.switch`: the function's code becomes our handler while the mapping keeps its
   checkpoint; the batch in flight at the switch is delivered again to the new code;
3. :meth:`Migration.backfill`: ``reconciler init --backfill`` beside live traffic;
4. :meth:`Migration.passes`: ``reconciler run`` passes until every counter is exact.

``tests/integration/test_migration.py`` asserts each step; ``python -m benchmarks.migration``
plays them at a larger size and prints the numbers (:class:`MigrationReport`).
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import random
import threading
from dataclasses import asdict, dataclass, field
from itertools import count
from typing import Any

from reconciler.cli import main
from reconciler.devtools.local_table import create_table
from reconciler.devtools.pump import FaultPlan
from reconciler.handler.entry import lambda_function
from reconciler.kernel.aws import Clients
from reconciler.kernel.model import EventKey
from reconciler.reconcile.summary import PassSummary
from tests.fakes.old_handler import OldHandler
from tests.fakes.reconcile import FakeClock
from tests.integration.pump_support import pump
from tests.integration.reconcile_pass import run_pass
from tests.integration.traffic import Table

TOO_HIGH = "9" * 40
"""A ``counterSeq`` above every sequence number the stream will ever hand out."""
DROPPED_BATCHES = frozenset({1, 4})
"""Batches (numbered from 0) the mapping drops in the old handler's time: drift to inherit."""


@dataclass
class MigrationReport:
    """What the roll-out did, in numbers that can be quoted."""

    events: int = 0
    attendees: int = 0
    """Attendee items at the end."""
    drift_before: int = 0
    """Sum of |stored - true| over the events when the migration starts."""
    drifted_events_before: int = 0
    recounted_at_switch: int = 0
    """|Δ drift| caused by the batch in flight at the switch, delivered again to the new code."""
    drift_after_switch: int = 0
    entries_created: int = 0
    entries_existing: int = 0
    """Entries the live handler wrote before the backfill reached them."""
    passes_needed: int = 0
    drift_after: int = 0
    exact_after: bool = False
    pass_modes: list[dict[str, int]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


class Switch:
    """The function the event source mapping invokes: the old code until :meth:`deploy`.

    Lambda keeps the mapping's checkpoint across a code update, so this stands between one pump
    and two handlers; it keeps the last batch of attendee records the old code was given (the
    one in flight; the old code's own counter writes reach the stream too, as event items'
    MODIFYs, and both handlers ignore those).
    """

    def __init__(self, old: Any, new: Any) -> None:
        self.old, self.new = old, new
        self.current = old
        self.last_old_event: dict[str, Any] | None = None
        self.delivered: dict[str, set[str]] = {"old": set(), "new": set()}
        """Sequence numbers each code was given."""

    def __call__(self, event: dict[str, Any], context: Any) -> Any:
        side = "old" if self.current is self.old else "new"
        if side == "old" and any(_is_attendee(r) for r in event["Records"]):
            self.last_old_event = event
        self.delivered[side].update(r["dynamodb"]["SequenceNumber"] for r in event["Records"])
        return self.current(event, context)

    def deploy(self) -> None:
        self.current = self.new


def _is_attendee(record: dict[str, Any]) -> bool:
    return str(record["dynamodb"]["Keys"]["pk"]["S"]).endswith("#ATTENDEE")


def event_keys(events: int) -> list[EventKey]:
    partitions = ("FAD", "EVENT")
    return [
        EventKey(partitions[i % 2], f"mig-{i:03d}#2024-12-{1 + i % 28:02d}#conference")
        for i in range(events)
    ]


class Migration(Table):
    def __init__(
        self, clients: Clients, name: str, endpoint: str, *, events: int = 6, seed: int = 9
    ) -> None:
        create_table(clients.dynamodb(), name)  # the registration table only: no ledger yet
        super().__init__(clients, name)
        self.endpoint = endpoint
        self.keys = event_keys(events)
        self.restored = self.keys[-1]
        """The event whose ``counterSeq`` a restore set too high."""
        self.old = OldHandler(self.ddb, name)
        self.switch_ = Switch(self.old, lambda_function(self.handler()))
        self.pump = pump(self, self.switch_, faults=FaultPlan(drop_batches=DROPPED_BATCHES))
        self.rng = random.Random(seed)
        self.people: dict[str, list[str]] = {key.slug: [] for key in self.keys}
        self._serial = count()
        self.report = MigrationReport(events=events)
        self.snapshots: dict[str, dict[str, int]] = {}
        """``drift()`` at named moments of the roll-out."""

    # -- traffic -----------------------------------------------------------------------------

    def join(self, key: EventKey) -> None:
        address = f"guest-{next(self._serial)}@example.com"
        self.register(key.slug, address)
        self.people[key.slug].append(address)

    def leave(self, key: EventKey) -> None:
        people = self.people[key.slug]
        if people:
            self.unregister(key.slug, people.pop(self.rng.randrange(len(people))))

    def traffic(self, operations: int) -> None:
        """Registrations (7 in 10), cancellations and profile edits, then the mapping delivers."""
        for _ in range(operations):
            key = self.rng.choice(self.keys)
            draw = self.rng.random()
            if draw < 0.7 or not self.people[key.slug]:
                self.join(key)
            elif draw < 0.9:
                self.leave(key)
            else:
                self.change_profession(key.slug, self.rng.choice(self.people[key.slug]), "Chef")
        self.pump.drain()

    # -- measurements ------------------------------------------------------------------------

    def drift(self) -> dict[str, int]:
        """stored - true, per event slug."""
        return {key.slug: self.stored(key) - self.true_count(key.slug) for key in self.keys}

    def total_drift(self) -> int:
        return sum(abs(value) for value in self.drift().values())

    # -- the roll-out ------------------------------------------------------------------------

    def old_era(self, attendees: int) -> None:
        """The old handler counts the first registrations (losing the dropped batches), then a
        restore sets one event's ``counterSeq`` too high, and traffic goes on."""
        for key in self.keys:
            self.put_event(key, 0)
        for _ in range(attendees):
            for key in self.keys:
                self.join(key)
        self.pump.drain()
        self.ddb.update_item(
            TableName=self.name,
            Key={"pk": {"S": self.restored.partition}, "sk": {"S": self.restored.sort_key}},
            UpdateExpression="SET counterSeq = :s",
            ExpressionAttributeValues={":s": {"S": TOO_HIGH}},
        )
        for _ in range(3):
            self.join(self.restored)
        self.traffic(2 * len(self.keys))
        drift = self.snapshots["old_era"] = self.drift()
        self.report.drift_before = sum(abs(value) for value in drift.values())
        self.report.drifted_events_before = sum(1 for value in drift.values() if value)

    def cli(self, *args: str) -> dict[str, Any]:
        """``reconciler <args>`` as an operator runs it; its JSON summary."""
        environment = {**os.environ, "TABLE_NAME": self.name, "AWS_ENDPOINT_URL": self.endpoint}
        out, err = io.StringIO(), io.StringIO()
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            code = main(list(args), environment)
        summary: dict[str, Any] = json.loads(out.getvalue().strip().splitlines()[-1])
        summary["exit_code"] = code
        return summary

    def init(self) -> dict[str, Any]:
        """Step 1: the state table."""
        return self.cli("init")

    def switch(self) -> list[dict[str, Any]]:
        """Step 2: the function's code becomes ours while traffic goes on.

        The last batch before the switch (three registrations for the first event, a
        cancellation for the second) is applied by the old code; its checkpoint is lost, so
        Lambda delivers it again, to the new code. Returns that batch's attendee records.
        """
        self.traffic(len(self.keys))
        for _ in range(3):
            self.join(self.keys[0])
        self.leave(self.keys[1])
        self.pump.drain()
        in_flight = self.switch_.last_old_event
        assert in_flight is not None
        self.switch_.deploy()
        before = self.snapshots["at_switch"] = self.drift()
        assert self.switch_({"Records": in_flight["Records"]}, None) == {"batchItemFailures": []}
        after = self.snapshots["after_redelivery"] = self.drift()
        self.report.recounted_at_switch = sum(abs(after[s] - before[s]) for s in before)
        self.traffic(2 * len(self.keys))
        self.snapshots["after_switch"] = self.drift()
        self.report.drift_after_switch = self.total_drift()
        return [record for record in in_flight["Records"] if _is_attendee(record)]

    def backfill(self, settle_seconds: float = 1.0) -> dict[str, Any]:
        """Step 3: ``init --backfill`` in its own thread while traffic goes on."""
        result: dict[str, Any] = {}

        def run() -> None:
            result.update(self.cli("init", "--backfill", "--settle-seconds", f"{settle_seconds}"))

        thread = threading.Thread(target=run, name="backfill")
        thread.start()
        while thread.is_alive():
            self.traffic(2)
        thread.join()
        self.traffic(2)
        backfill = result.get("backfill", {})
        self.report.entries_created = backfill.get("entries_created", 0)
        self.report.entries_existing = backfill.get("entries_existing", 0)
        return result

    def passes(self, limit: int = 5, traffic_per_sleep: int = 2) -> list[PassSummary]:
        """Step 4: passes (traffic delivered while each waits its settle window) until every
        counter is exact, at most ``limit``."""
        summaries: list[PassSummary] = []
        clock = FakeClock(on_sleep=lambda _now: self.traffic(traffic_per_sleep))
        while len(summaries) < limit:
            summaries.append(run_pass(self, clock=clock))
            self.pump.drain()
            if self.total_drift() == 0:
                break
        report = self.report
        report.passes_needed = len(summaries)
        report.pass_modes = [
            {"ledger": s.ledger_events, "classic": s.classic_events, "corrected": s.corrected}
            for s in summaries
        ]
        report.drift_after = self.total_drift()
        report.exact_after = report.drift_after == 0
        report.attendees = sum(len(people) for people in self.people.values())
        return summaries

    def roll_out(self, attendees: int, settle_seconds: float = 1.0) -> MigrationReport:
        """Every step in the documented order; the report of the whole."""
        self.old_era(attendees)
        self.init()
        self.switch()
        self.backfill(settle_seconds)
        self.passes()
        return self.report
