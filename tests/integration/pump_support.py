"""The local event source mapping over a moto stream on virtual time, and a scripted handler
that records what it was given: shared by the pump's delivery, retry and CLI tests."""

from __future__ import annotations

from typing import Any

from reconciler.devtools.pump.faults import FaultPlan
from reconciler.devtools.pump.mapping import PumpConfig, StreamPump
from reconciler.handler.lambda_shape import Handler
from reconciler.kernel.model import EventKey
from tests.integration.traffic import Table

WORKSHOP = EventKey("EVENT", "workshop#2024-11-15#workshop")
TECH = EventKey("FAD", "tech-summit-2024#2024-10-27#conference")


class VirtualTime:
    """A clock that only moves when the pump sleeps: window logic without real waiting."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.sleeps: list[float] = []

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


class Recorder:
    """A handler that records each delivery and answers from a script, then delegates to the
    real handler (as the Lambda entry point calls it), if given one."""

    def __init__(self, inner: Handler | None = None, answers: list[object] | None = None) -> None:
        self.inner = inner
        self.answers = list(answers or [])
        self.deliveries: list[list[str]] = []
        self.events: list[dict[str, Any]] = []

    def __call__(self, event: dict[str, Any], context: Any) -> object:
        self.events.append(event)
        self.deliveries.append([r["dynamodb"]["SequenceNumber"] for r in event["Records"]])
        if self.answers:
            answer = self.answers.pop(0)
            if isinstance(answer, Exception):
                raise answer
            if callable(answer):
                return answer(event)
            return answer
        if self.inner is not None:
            return self.inner(event, context)
        return None


def fail_at(index: int) -> Any:
    def answer(event: dict[str, Any]) -> dict[str, Any]:
        identifier = event["Records"][index]["dynamodb"]["SequenceNumber"]
        return {"batchItemFailures": [{"itemIdentifier": identifier}]}

    return answer


def pump(
    table: Table,
    handler: Any,
    *,
    faults: FaultPlan | None = None,
    time_: VirtualTime | None = None,
    **config: Any,
) -> StreamPump:
    settings = {"batching_window": 0.0, **config}
    time_ = time_ or VirtualTime()
    return StreamPump(
        table.clients.streams(),
        table.stream_arn(),
        handler,
        region="us-east-1",
        config=PumpConfig(**settings),
        faults=faults,
        clock=time_.clock,
        sleep=time_.sleep,
    )


def registrations(table: Table, slug: str, n: int) -> None:
    for i in range(n):
        table.register(slug, f"{slug}-{i}@example.com")
