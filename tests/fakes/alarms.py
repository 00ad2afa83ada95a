"""In-memory stand-ins for the alarms service's ports, and a recording CloudWatch client."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from alarms.errors import FunctionNotFoundError
from alarms.ports import FunctionInfo

ACCOUNT = "123456789012"


@dataclass
class FakeFunctions:
    timeouts: dict[str, int] = field(default_factory=lambda: {"updateAttendeeCounter": 60})

    def describe(self, function_name: str) -> FunctionInfo:
        if function_name not in self.timeouts:
            raise FunctionNotFoundError(function_name)
        return FunctionInfo(
            name=function_name,
            arn=f"arn:aws:lambda:us-east-1:{ACCOUNT}:function:{function_name}",
            timeout_seconds=self.timeouts[function_name],
        )


@dataclass
class FakeTopics:
    topics: set[str] = field(default_factory=set)
    subscriptions: set[tuple[str, str, str]] = field(default_factory=set)

    def _arn(self, name: str) -> str:
        return f"arn:aws:sns:us-east-1:{ACCOUNT}:{name}"

    def find(self, name: str) -> str | None:
        return self._arn(name) if self._arn(name) in self.topics else None

    def ensure(self, name: str) -> str:
        self.topics.add(self._arn(name))
        return self._arn(name)

    def verify(self, arn: str) -> str:
        return arn

    def arn_for(self, name: str) -> str:
        return self._arn(name)

    def subscribe(self, arn: str, protocol: str, endpoints: Sequence[str]) -> int:
        new = {(arn, protocol, e) for e in endpoints} - self.subscriptions
        self.subscriptions |= new
        return len(new)


@dataclass
class FakeQueues:
    names: set[str] = field(default_factory=set)

    def exists(self, queue_name: str) -> bool:
        return queue_name in self.names


class _EmptyPaginator:
    def paginate(self, **_: Any) -> Iterator[dict[str, Any]]:
        yield {"MetricAlarms": []}


@dataclass
class RecordingCloudWatch:
    """Enough of a boto3 CloudWatch client for ``CloudWatchAlarms``: records every write."""

    put_calls: list[dict[str, Any]] = field(default_factory=list)

    def get_paginator(self, name: str) -> _EmptyPaginator:
        assert name == "describe_alarms"
        return _EmptyPaginator()

    def put_metric_alarm(self, **kwargs: Any) -> dict[str, Any]:
        self.put_calls.append(kwargs)
        return {}
