"""Turns specs into concrete alarm definitions: names, actions, description, ownership tags.

An :class:`AlarmDefinition` is exactly what CloudWatch stores for a metric alarm, so the plan
compares like with like, the boto3 adapter sends it as ``PutMetricAlarm`` and the CDK path
writes it as ``AWS::CloudWatch::Alarm`` properties.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, fields

from alarms.spec import AlarmSpec
from reconciler.kernel import deployment_spec as deployed

OWNER_TAG = "ManagedBy"
OWNER_CLI = "attendee-counter-reconciler"
"""Alarms carrying this owner (and our prefix) are ours to update and delete."""
OWNER_CDK = "attendee-counter-cdk"
"""The CDK stack's alarms belong to CloudFormation: the CLI must never prune them."""
PREFIX_TAG = "AlarmPrefix"
KEY_TAG = "AlarmKey"
SEVERITY_TAG = "Severity"
MAX_NAME_LENGTH = 255
MAX_DESCRIPTION_LENGTH = 1024


@dataclass(frozen=True, slots=True)
class AlarmDefinition:
    """One metric alarm as CloudWatch stores it; field names follow ``PutMetricAlarm``."""

    name: str
    description: str
    namespace: str
    metric_name: str
    dimensions: tuple[tuple[str, str], ...]
    statistic: str | None
    extended_statistic: str | None
    period: int
    evaluation_periods: int
    datapoints_to_alarm: int
    comparison_operator: str
    threshold: float
    treat_missing_data: str
    actions_enabled: bool
    alarm_actions: tuple[str, ...]
    ok_actions: tuple[str, ...]
    insufficient_data_actions: tuple[str, ...]
    tags: tuple[tuple[str, str], ...] = ()

    @property
    def tag_map(self) -> dict[str, str]:
        return dict(self.tags)

    def differences(self, other: AlarmDefinition) -> tuple[str, ...]:
        """Fields whose values differ; tags count only where ``self`` sets them."""
        changed = [
            f.name
            for f in fields(self)
            if f.name != "tags" and getattr(self, f.name) != getattr(other, f.name)
        ]
        theirs = other.tag_map
        if any(theirs.get(key) != value for key, value in self.tags):
            changed.append("tags")
        return tuple(changed)


def render(
    specs: Sequence[AlarmSpec],
    *,
    prefix: str,
    topic_arn: str,
    owner: str = OWNER_CLI,
    runbook_url_template: str = deployed.RUNBOOK_URL_TEMPLATE,
) -> tuple[AlarmDefinition, ...]:
    """Concrete definitions; alarm and OK notifications both go to ``topic_arn``."""
    definitions = tuple(
        render_one(
            spec,
            prefix=prefix,
            topic_arn=topic_arn,
            owner=owner,
            runbook_url_template=runbook_url_template,
        )
        for spec in specs
    )
    names = [d.name for d in definitions]
    duplicates = sorted({n for n in names if names.count(n) > 1})
    if duplicates:
        raise ValueError(f"two alarms render to the same name: {duplicates}")
    return definitions


def render_one(
    spec: AlarmSpec,
    *,
    prefix: str,
    topic_arn: str,
    owner: str = OWNER_CLI,
    runbook_url_template: str = deployed.RUNBOOK_URL_TEMPLATE,
) -> AlarmDefinition:
    name = spec.name(prefix)
    if len(name) > MAX_NAME_LENGTH:
        raise ValueError(f"alarm name longer than {MAX_NAME_LENGTH} characters: {name}")
    # Cut the prose, never the link: the runbook URL is what the on-call engineer needs.
    suffix = f" Severity: {spec.severity}. Runbook: {spec.runbook_url(runbook_url_template)}"
    description = spec.description[: MAX_DESCRIPTION_LENGTH - len(suffix)] + suffix
    return AlarmDefinition(
        name=name,
        description=description,
        namespace=spec.namespace,
        metric_name=spec.metric,
        dimensions=tuple(sorted(spec.dimensions)),
        statistic=spec.statistic,
        extended_statistic=spec.extended_statistic,
        period=spec.period_seconds,
        evaluation_periods=spec.evaluation_periods,
        datapoints_to_alarm=spec.datapoints_to_alarm,
        comparison_operator=spec.comparison,
        threshold=float(spec.threshold),
        treat_missing_data=spec.treat_missing_data,
        actions_enabled=True,
        alarm_actions=(topic_arn,),
        ok_actions=(topic_arn,),
        insufficient_data_actions=(),
        tags=(*ownership_tags(prefix, owner), (KEY_TAG, spec.key), (SEVERITY_TAG, spec.severity)),
    )


def ownership_tags(prefix: str, owner: str = OWNER_CLI) -> tuple[tuple[str, str], ...]:
    return ((OWNER_TAG, owner), (PREFIX_TAG, prefix))


def is_owned(tags: Mapping[str, str], prefix: str, owner: str = OWNER_CLI) -> bool:
    """Owned means both our owner tag and our prefix: another deployment's prefix may start
    with ours (``attendee-counter`` vs ``attendee-counter-staging``)."""
    return tags.get(OWNER_TAG) == owner and tags.get(PREFIX_TAG) == prefix
