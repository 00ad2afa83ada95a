"""The plan / apply / destroy workflows: resolve inputs, render, diff, execute.

Decisions live in ``spec``, ``render`` and ``plan``; this module only sequences the ports, so
``plan`` never writes anything and ``apply`` writes exactly what the plan says.
"""

from __future__ import annotations

from dataclasses import dataclass

from alarms.config import AlarmSettings
from alarms.errors import ForeignAlarmError, QueueNotFoundError
from alarms.plan import AlarmPlan, plan
from alarms.ports import AlarmStore, FunctionDirectory, QueueDirectory, TopicStore
from alarms.render import AlarmDefinition, render
from alarms.spec import build_specs


@dataclass(frozen=True, slots=True)
class AlarmPorts:
    alarms: AlarmStore
    topics: TopicStore
    functions: FunctionDirectory
    queues: QueueDirectory


@dataclass(frozen=True, slots=True)
class Outcome:
    plan: AlarmPlan
    topic_arn: str
    topic_exists: bool
    timeout_seconds: int
    desired: tuple[AlarmDefinition, ...]
    subscriptions_added: int = 0


def prepare(settings: AlarmSettings, ports: AlarmPorts, *, create_topic: bool = False) -> Outcome:
    """Everything ``plan`` shows; with ``create_topic`` the topic is made to exist first."""
    # A given timeout makes the deployed function unnecessary: plan works before StatelessStack.
    timeout = (
        settings.function_timeout_seconds
        or ports.functions.describe(settings.function_name).timeout_seconds
    )
    if settings.on_failure_queue and not ports.queues.exists(settings.on_failure_queue):
        raise QueueNotFoundError(settings.on_failure_queue)
    topic_arn, topic_exists = _topic(settings, ports, create=create_topic)
    desired = render(
        build_specs(settings.spec_parameters(timeout)),
        prefix=settings.prefix,
        topic_arn=topic_arn,
        runbook_url_template=settings.runbook_url_template,
    )
    existing = ports.alarms.list_alarms(settings.prefix)
    return Outcome(
        plan=plan(desired, existing, prefix=settings.prefix),
        topic_arn=topic_arn,
        topic_exists=topic_exists,
        timeout_seconds=timeout,
        desired=desired,
    )


def apply(settings: AlarmSettings, ports: AlarmPorts) -> Outcome:
    """Make CloudWatch match the spec; running it twice changes nothing the second time."""
    outcome = prepare(settings, ports, create_topic=True)
    result = outcome.plan
    if result.foreign:
        raise ForeignAlarmError(result.foreign)
    added = ports.topics.subscribe(outcome.topic_arn, "email", settings.email_subscriptions)
    added += ports.topics.subscribe(outcome.topic_arn, "sqs", settings.sqs_subscriptions)
    for definition in result.create:
        ports.alarms.put(definition)
    for update in result.update:
        ports.alarms.put(update.definition, replace_tags_of=update.arn)
    if result.delete:
        ports.alarms.delete(result.delete)
    return Outcome(
        plan=result,
        topic_arn=outcome.topic_arn,
        topic_exists=True,
        timeout_seconds=outcome.timeout_seconds,
        desired=outcome.desired,
        subscriptions_added=added,
    )


def destroy(settings: AlarmSettings, ports: AlarmPorts) -> AlarmPlan:
    """Delete every alarm we own under the prefix; alarms of others and the topic stay."""
    result = plan((), ports.alarms.list_alarms(settings.prefix), prefix=settings.prefix)
    if result.delete:
        ports.alarms.delete(result.delete)
    return result


def _topic(settings: AlarmSettings, ports: AlarmPorts, *, create: bool) -> tuple[str, bool]:
    if settings.topic_arn:
        return ports.topics.verify(settings.topic_arn), True
    name = settings.topic_name or f"{settings.prefix}-alarms"
    if create:
        return ports.topics.ensure(name), True
    found = ports.topics.find(name)
    if found:
        return found, True
    return ports.topics.arn_for(name), False
