"""The plan / apply / destroy workflow on in-memory ports: what it writes, and when it refuses."""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from typing import Any

import pytest

from alarms.config import AlarmSettings, parse_alarm_settings
from alarms.errors import ForeignAlarmError, FunctionNotFoundError, QueueNotFoundError
from alarms.plan import ExistingAlarm
from alarms.render import AlarmDefinition
from alarms.service import AlarmPorts, apply, destroy, prepare
from reconciler.kernel.settings import Source
from tests.fakes.alarms import FakeFunctions, FakeQueues, FakeTopics


@dataclass
class FakeAlarmStore:
    alarms: dict[str, ExistingAlarm] = field(default_factory=dict)
    writes: int = 0

    def list_alarms(self, prefix: str) -> list[ExistingAlarm]:
        return [a for name, a in self.alarms.items() if name.startswith(f"{prefix}-")]

    def put(self, definition: AlarmDefinition, *, replace_tags_of: str | None = None) -> None:
        self.writes += 1
        self.alarms[definition.name] = ExistingAlarm(definition, f"arn:{definition.name}")

    def delete(self, names: Any) -> None:
        self.writes += 1
        for name in names:
            del self.alarms[name]


def settings(**flags: Any) -> AlarmSettings:
    return parse_alarm_settings(Source({"prefix": "ac", **flags}, {}), {})


@pytest.fixture
def ports() -> AlarmPorts:
    return AlarmPorts(
        alarms=FakeAlarmStore(), topics=FakeTopics(), functions=FakeFunctions(), queues=FakeQueues()
    )


def test_plan_writes_nothing_and_predicts_the_topic(ports: AlarmPorts) -> None:
    outcome = prepare(settings(), ports)
    assert outcome.topic_arn == "arn:aws:sns:us-east-1:123456789012:ac-alarms"
    assert not outcome.topic_exists
    assert len(outcome.plan.create) == 6
    assert ports.alarms.writes == 0  # type: ignore[attr-defined]
    assert ports.topics.topics == set()  # type: ignore[attr-defined]


def test_apply_then_apply_again_changes_nothing(ports: AlarmPorts) -> None:
    assert apply(settings(), ports).plan.changes == 6
    writes = ports.alarms.writes  # type: ignore[attr-defined]
    assert apply(settings(), ports).plan.changes == 0
    assert ports.alarms.writes == writes  # type: ignore[attr-defined]


def test_timeout_flag_overrides_the_functions_configuration(ports: AlarmPorts) -> None:
    outcome = prepare(settings(function_timeout="10"), ports)
    duration = next(d for d in outcome.desired if d.metric_name == "Duration")
    assert outcome.timeout_seconds == 10
    assert duration.threshold == 8000.0


def test_unknown_function_is_refused_before_anything_is_read(ports: AlarmPorts) -> None:
    with pytest.raises(FunctionNotFoundError, match="noSuch"):
        apply(settings(function_name="noSuch"), ports)


def test_missing_on_failure_queue_is_refused(ports: AlarmPorts) -> None:
    with pytest.raises(QueueNotFoundError):
        prepare(settings(on_failure_queue="gone"), ports)


def test_apply_refuses_when_a_desired_name_belongs_to_someone_else(ports: AlarmPorts) -> None:
    desired = prepare(settings(), ports).desired[0]
    store = ports.alarms
    assert isinstance(store, FakeAlarmStore)
    store.alarms[desired.name] = ExistingAlarm(replace(desired, tags=()), "arn:theirs")
    with pytest.raises(ForeignAlarmError, match=desired.name):
        apply(settings(), ports)
    assert store.writes == 0


def test_destroy_removes_only_owned_alarms(ports: AlarmPorts) -> None:
    apply(settings(), ports)
    assert len(destroy(settings(), ports).delete) == 6
    assert ports.alarms.list_alarms("ac") == []
