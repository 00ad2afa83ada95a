"""The hot event's moving parts: a registration thread, a tap on the pump's handler, and a
consistent look at the counter while both keep running.

On a hot event "stored = true" is never true for long: a registration written a moment ago
is still on its way through the stream. So every look is taken between two writes and two
deliveries (the traffic thread and the tap share one lock, :class:`Gate`), and counts the
registrations written but not yet handed to the handler (*on their way*). The counter is
exact when ``stored = true - on their way``. The tap knows deliveries by sequence number only;
it holds no attendee data.
"""

from __future__ import annotations

import random
import threading
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

from reconciler.devtools.demo.report import count_attendees
from reconciler.devtools.demo.traffic import event_item_key, fake_attendee, put_attendee
from reconciler.handler.lambda_shape import Handler, retry_index, sequence_number
from reconciler.kernel.aws import Clients
from reconciler.kernel.errors import ReconcilerError
from reconciler.kernel.model import EventKey, TableModel

_MODEL = TableModel()


class SimulatedOutageError(ReconcilerError):
    """The demo's stand-in for a function that fails on every attempt at one batch."""


Gate = threading.Lock
"""Held around each registration, each handler invocation and each look."""


class HotTraffic:
    """A registration for one event every ``interval`` seconds, on its own thread."""

    def __init__(
        self,
        clients: Clients,
        table_name: str,
        key: EventKey,
        *,
        interval: float,
        gate: threading.Lock,
        seed: int,
    ) -> None:
        self._dynamodb = clients.dynamodb()
        self._table_name = table_name
        self._slug = key.slug
        self._interval = interval
        self._gate = gate
        self._rng = random.Random(f"{seed}:hot")
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="demo-hot-traffic", daemon=True)
        self.written = 0
        self.failure: str | None = None
        """The error that ended the thread early, if any (its type only)."""

    @property
    def alive(self) -> bool:
        return self._thread.is_alive()

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            attendee = fake_attendee(self._rng, self._slug, 5000 + self.written)
            try:
                with self._gate:
                    put_attendee(self._dynamodb, self._table_name, attendee)
                    self.written += 1
            except Exception as exc:  # noqa: BLE001 - reported by the demo, never swallowed
                self.failure = type(exc).__name__
                return


def _is_registration(record: Mapping[str, Any]) -> bool:
    keys = record.get("dynamodb", {}).get("Keys", {})
    partition = str(keys.get(_MODEL.pk_attr, {}).get("S", ""))
    return record.get("eventName") == "INSERT" and partition.endswith(_MODEL.attendee_suffix)


class DeliveryTap:
    """Wraps the function the pump invokes: notes which registrations the handler applied,
    and, once armed, makes the next batch of registrations fail on every attempt (as a
    function that keeps timing out does), so the mapping spends its retries and drops it."""

    def __init__(self, gate: threading.Lock) -> None:
        self._gate = gate
        self._armed = False
        self._doomed: frozenset[str] = frozenset()
        self.applied: set[str] = set()
        """Sequence numbers of registrations the handler accepted."""
        self.dropped: frozenset[str] = frozenset()
        """Sequence numbers of the registrations in the doomed batch."""
        self.failed_invocations = 0

    def fail_next_batch(self) -> None:
        with self._gate:
            self._armed = True

    @property
    def batch_doomed(self) -> bool:
        return bool(self._doomed)

    def around(self, function: Handler) -> Handler:
        def tapped(event: dict[str, Any], context: Any) -> object:
            records = event.get("Records", [])
            numbers = [sequence_number(record) for record in records]
            registrations = {
                n for n, r in zip(numbers, records, strict=True) if _is_registration(r)
            }
            with self._gate:
                if self._armed and registrations:
                    self._armed = False
                    self._doomed = frozenset(numbers)
                    self.dropped = frozenset(registrations)
                if self._doomed.intersection(numbers):
                    self.failed_invocations += 1
                    raise SimulatedOutageError("the function failed on this batch")
                response = function(event, context)
                resume = retry_index(response, numbers)
                self.applied |= registrations.intersection(numbers[:resume])
                return response

        return tapped


@dataclass(frozen=True, slots=True)
class HotLook:
    """The counter at one moment between writes and deliveries."""

    stored: int | None
    true: int
    """Attendee items in the table."""
    on_their_way: int
    """Registrations written but not yet handed to the handler (nor dropped)."""
    dropped: int
    """Registrations in the batch the mapping dropped (whether replayed since or not)."""

    @property
    def expected(self) -> int:
        """What the counter should say now: every registration the stream has delivered."""
        return self.true - self.on_their_way

    @property
    def drift(self) -> int:
        return (self.stored or 0) - self.expected

    @property
    def exact(self) -> bool:
        return self.stored is not None and self.drift == 0


def look(
    clients: Clients,
    table_name: str,
    key: EventKey,
    *,
    traffic: HotTraffic,
    tap: DeliveryTap,
    gate: threading.Lock,
) -> HotLook:
    """A look taken with the gate held: no registration lands and no batch is applied during
    it. Plain reads of its own, like the demo's other verdicts."""
    dynamodb = clients.dynamodb()
    with gate:
        item = dynamodb.get_item(
            TableName=table_name, Key=event_item_key(key), ConsistentRead=True
        ).get("Item", {})
        stored = item.get(_MODEL.counter_attr, {}).get("N")
        true = count_attendees(dynamodb, table_name, key.slug)
        handed = len(tap.applied | tap.dropped)
        return HotLook(
            stored=None if stored is None else int(stored),
            true=true,
            on_their_way=traffic.written - handed,
            dropped=len(tap.dropped),
        )


def wait_until(condition: Callable[[], bool], timeout: float, poll: float = 0.02) -> bool:
    """Poll ``condition`` until it holds or ``timeout`` seconds pass; whether it held."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() >= deadline:
            return False
        time.sleep(poll)
    return True
