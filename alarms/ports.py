"""What the alarms service needs from AWS, as protocols; boto3 lives in ``alarms.cloudwatch``."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

from alarms.plan import ExistingAlarm
from alarms.render import AlarmDefinition


@dataclass(frozen=True, slots=True)
class FunctionInfo:
    name: str
    arn: str
    timeout_seconds: int


class AlarmStore(Protocol):
    def list_alarms(self, prefix: str) -> list[ExistingAlarm]: ...

    def put(self, definition: AlarmDefinition, *, replace_tags_of: str | None = None) -> None: ...

    def delete(self, names: Sequence[str]) -> None: ...


class TopicStore(Protocol):
    def find(self, name: str) -> str | None: ...

    def ensure(self, name: str) -> str: ...

    def verify(self, arn: str) -> str: ...

    def arn_for(self, name: str) -> str:
        """The ARN ``CreateTopic`` would give a topic of this name, for a plan before it exists."""
        ...

    def subscribe(self, arn: str, protocol: str, endpoints: Sequence[str]) -> int: ...


class FunctionDirectory(Protocol):
    def describe(self, function_name: str) -> FunctionInfo: ...


class QueueDirectory(Protocol):
    def exists(self, queue_name: str) -> bool: ...
