"""Translates alarm definitions into ``aws_cdk.aws_cloudwatch.CfnAlarm`` keyword arguments.

Pure on purpose: it returns plain keyword dictionaries (jsii accepts dicts for the nested
``DimensionProperty`` and ``CfnTag`` structs), so this module needs neither node nor jsii and
mypy need not load aws-cdk-lib's type stubs. ``deploy.monitoring_stack`` passes the result to
``CfnAlarm(scope, id, **kwargs)``. The CDK path and ``PutMetricAlarm`` render from the same
:class:`AlarmDefinition`, which is what makes them equal.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any

from alarms.render import OWNER_CDK, AlarmDefinition, render
from alarms.runbooks import check_runbook_url_template
from alarms.spec import DEFAULT_PREFIX, SpecParameters, Tuning, build_specs
from reconciler.kernel import deployment_spec as deployed


def cfn_alarm_kwargs(definition: AlarmDefinition) -> dict[str, Any]:
    kwargs: dict[str, Any] = {
        "alarm_name": definition.name,
        "alarm_description": definition.description,
        "actions_enabled": definition.actions_enabled,
        "alarm_actions": list(definition.alarm_actions),
        "ok_actions": list(definition.ok_actions),
        "metric_name": definition.metric_name,
        "namespace": definition.namespace,
        "dimensions": [{"name": name, "value": value} for name, value in definition.dimensions],
        "period": definition.period,
        "evaluation_periods": definition.evaluation_periods,
        "datapoints_to_alarm": definition.datapoints_to_alarm,
        "threshold": definition.threshold,
        "comparison_operator": definition.comparison_operator,
        "treat_missing_data": definition.treat_missing_data,
        "tags": [{"key": key, "value": value} for key, value in definition.tags],
    }
    if definition.insufficient_data_actions:
        kwargs["insufficient_data_actions"] = list(definition.insufficient_data_actions)
    if definition.extended_statistic is not None:
        kwargs["extended_statistic"] = definition.extended_statistic
    else:
        kwargs["statistic"] = definition.statistic
    return kwargs


def logical_id(key: str) -> str:
    """``handler-iterator-age`` -> ``HandlerIteratorAgeAlarm``: stable across renames of names."""
    return "".join(part.capitalize() for part in key.split("-")) + "Alarm"


def stack_alarms(
    *,
    function_name: str,
    timeout_seconds: int,
    topic_arn: str,
    prefix: str = DEFAULT_PREFIX,
    on_failure_queue_name: str | None = None,
    reconciler_namespace: str | None = None,
    handler_namespace: str | None = None,
    tuning: Mapping[str, Tuning] | None = None,
    disabled: Sequence[str] = (),
    runbook_url_template: str = deployed.RUNBOOK_URL_TEMPLATE,
) -> list[tuple[str, dict[str, Any]]]:
    """``(logical id, CfnAlarm kwargs)`` per alarm of the spec, owned by CloudFormation."""
    template = check_runbook_url_template(runbook_url_template, "runbook_url_template")
    params = SpecParameters(
        function_name=function_name,
        timeout_seconds=timeout_seconds,
        on_failure_queue_name=on_failure_queue_name,
        reconciler_namespace=reconciler_namespace,
        tuning=dict(tuning or {}),
        disabled=frozenset(disabled),
    )
    if handler_namespace:
        params = replace(params, handler_namespace=handler_namespace)
    specs = build_specs(params)
    definitions = render(
        specs, prefix=prefix, topic_arn=topic_arn, owner=OWNER_CDK, runbook_url_template=template
    )
    return [
        (logical_id(spec.key), cfn_alarm_kwargs(definition))
        for spec, definition in zip(specs, definitions, strict=True)
    ]
