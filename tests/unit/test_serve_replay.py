"""``serve --on-failure-queue-url``'s runner: the replay comes before the pass, and a replay
that cannot reach its queue never fails the pass."""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError
from prometheus_client import CollectorRegistry

from reconciler.handler.replay import BatchReplayer
from reconciler.handler.replay_queue import ReplayJob
from reconciler.reconcile.summary import PassSummary
from reconciler.serve.replay import ReplayingRunner, ReplayMetrics


class UnreachableQueue:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def receive_message(self, **_: Any) -> dict[str, Any]:
        self.calls.append("receive")
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": ""}}, "ReceiveMessage")


class Pass:
    def __init__(self, calls: list[str]) -> None:
        self.calls = calls

    def run_pass(self, control: object = None, run_id: str | None = None) -> PassSummary:
        self.calls.append("pass")
        return PassSummary(run_id=run_id or "r")


def test_a_replay_that_cannot_reach_its_queue_never_fails_the_pass_that_follows_it() -> None:
    calls: list[str] = []
    registry = CollectorRegistry()
    replayer = BatchReplayer(lambda _: [], lambda event, context: None)

    def new_job() -> ReplayJob:
        return ReplayJob(UnreachableQueue(calls), "url", replayer)  # type: ignore[arg-type]

    runner = ReplayingRunner(Pass(calls), new_job, ReplayMetrics(registry))
    summary = runner.run_pass(run_id="r1")

    assert calls == ["receive", "pass"]
    assert not summary.failed
    assert registry.get_sample_value("reconciler_replay_kept_messages") == 0
