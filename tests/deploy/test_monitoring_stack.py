"""MonitoringStack: synthesized and proven equal to what the CLI sends CloudWatch.

cfn-lint runs on it with every other stack of the app in ``test_cfn_lint.py``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from alarms.cloudwatch import CloudWatchAlarms
from alarms.config import parse_alarm_settings
from alarms.render import KEY_TAG, OWNER_CDK, OWNER_CLI
from alarms.service import AlarmPorts, apply
from reconciler.kernel import deployment_spec as deployed
from reconciler.kernel.errors import ConfigError
from reconciler.kernel.settings import Source
from tests.deploy.conftest import CDK_GROUP
from tests.fakes.alarms import FakeFunctions, FakeQueues, FakeTopics, RecordingCloudWatch

pytestmark = CDK_GROUP

QUEUE = "updateAttendeeCounter-failures"
NAMESPACE = "AttendeeCounter/Reconciler"
PREFIX = "attendee-counter"
DOCS = "https://github.com/attendee-counter/reconciler/blob/main/docs/runbooks"


@dataclass(frozen=True)
class Synthesized:
    stack: Any
    template: dict[str, Any]
    path: Path


def synthesize(outdir: Path, **options: Any) -> Synthesized:
    from aws_cdk import App

    from deploy.monitoring_stack import MonitoringStack

    app = App(outdir=str(outdir))
    stack = MonitoringStack(
        app,
        "MonitoringStack",
        handler_function_name=deployed.HANDLER_FUNCTION_NAME,
        handler_timeout_seconds=deployed.HANDLER_TIMEOUT_SECONDS,
        **options,
    )
    assembly = app.synth()
    path = Path(assembly.get_stack_by_name("MonitoringStack").template_full_path)
    return Synthesized(stack=stack, template=json.loads(path.read_text()), path=path)


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Synthesized:
    return synthesize(
        tmp_path_factory.mktemp("monitoring"),
        on_failure_queue_name=QUEUE,
        reconciler_namespace=NAMESPACE,
        prefix=PREFIX,
    )


def alarms_of(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        resource["Properties"]["AlarmName"]: resource["Properties"]
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::CloudWatch::Alarm"
    }


def topic_id(template: dict[str, Any]) -> str:
    (logical_id,) = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::SNS::Topic"]
    return logical_id


def test_every_alarm_of_the_spec_is_in_the_stack(full: Synthesized) -> None:
    from aws_cdk.assertions import Template

    template = Template.from_stack(full.stack)
    template.resource_count_is("AWS::CloudWatch::Alarm", 10)
    template.resource_count_is("AWS::SNS::Topic", 1)


def test_without_queue_or_namespace_only_the_six_handler_alarms(tmp_path: Path) -> None:
    assert len(alarms_of(synthesize(tmp_path).template)) == 6


def test_alarm_and_ok_notifications_go_to_the_stacks_topic(full: Synthesized) -> None:
    ref = {"Ref": topic_id(full.template)}
    for properties in alarms_of(full.template).values():
        assert properties["AlarmActions"] == [ref]
        assert properties["OKActions"] == [ref]


def test_duration_threshold_is_80_percent_of_the_handler_timeout(full: Synthesized) -> None:
    duration = alarms_of(full.template)[f"{PREFIX}-handler-duration-p90-warning"]
    assert duration["ExtendedStatistic"] == "p90"
    assert "Statistic" not in duration
    assert duration["Threshold"] == deployed.HANDLER_TIMEOUT_SECONDS * 1000 * 0.8


def runbook_links(template: dict[str, Any]) -> dict[str, str]:
    """Alarm key -> the runbook URL its description ends with."""
    links = {}
    for properties in alarms_of(template).values():
        key = next(t["Value"] for t in properties["Tags"] if t["Key"] == KEY_TAG)
        _, _, links[key] = properties["AlarmDescription"].rpartition(" Runbook: ")
    return links


def test_every_alarm_description_links_its_runbook_page_in_the_docs(full: Synthesized) -> None:
    links = runbook_links(full.template)
    assert len(links) == 10
    assert links == {key: f"{DOCS}/{key}.md" for key in links}


def test_a_runbook_url_template_links_every_alarm_there(tmp_path: Path) -> None:
    synthesized = synthesize(
        tmp_path,
        on_failure_queue_name=QUEUE,
        reconciler_namespace=NAMESPACE,
        runbook_url_template="https://wiki.example.com/oncall/{name}?source=cloudwatch",
    )
    links = runbook_links(synthesized.template)
    assert len(links) == 10
    assert links == {
        key: f"https://wiki.example.com/oncall/{key}?source=cloudwatch" for key in links
    }


def test_a_relative_runbook_url_template_is_refused_before_synthesis(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="runbook_url_template: must be an absolute"):
        synthesize(tmp_path, runbook_url_template="README.md#runbook-{name}")


def test_stack_alarms_are_owned_by_cloudformation_not_the_cli(full: Synthesized) -> None:
    for properties in alarms_of(full.template).values():
        assert {"Key": "ManagedBy", "Value": OWNER_CDK} in properties["Tags"]


def cli_put_metric_alarm_calls() -> dict[str, dict[str, Any]]:
    """Run the CLI's apply workflow with a recording CloudWatch client; what it would send."""
    recorder = RecordingCloudWatch()
    settings = parse_alarm_settings(
        Source(
            {
                "prefix": PREFIX,
                "on_failure_queue": QUEUE,
                "reconciler_namespace": NAMESPACE,
            },
            {},
        ),
        {},
    )
    ports = AlarmPorts(
        alarms=CloudWatchAlarms(recorder),  # type: ignore[arg-type]
        topics=FakeTopics(),
        functions=FakeFunctions(),
        queues=FakeQueues({QUEUE}),
    )
    outcome = apply(settings, ports)
    assert len(recorder.put_calls) == 10
    calls = {call["AlarmName"]: call for call in recorder.put_calls}
    for call in calls.values():
        call["AlarmActions"] = [
            "TOPIC" if a == outcome.topic_arn else a for a in call["AlarmActions"]
        ]
        call["OKActions"] = ["TOPIC" if a == outcome.topic_arn else a for a in call["OKActions"]]
    return calls


def test_cli_and_cdk_render_the_same_alarms_field_by_field(full: Synthesized) -> None:
    ref = {"Ref": topic_id(full.template)}
    cdk = alarms_of(full.template)
    cli = cli_put_metric_alarm_calls()

    assert set(cli) == set(cdk)
    for name, sent in cli.items():
        properties = dict(cdk[name])
        properties["AlarmActions"] = [
            "TOPIC" if a == ref else a for a in properties["AlarmActions"]
        ]
        properties["OKActions"] = ["TOPIC" if a == ref else a for a in properties["OKActions"]]
        properties.setdefault("InsufficientDataActions", [])
        cli_tags = {t["Key"]: t["Value"] for t in sent.pop("Tags")}
        cdk_tags = {t["Key"]: t["Value"] for t in properties.pop("Tags")}
        assert (cli_tags.pop("ManagedBy"), cdk_tags.pop("ManagedBy")) == (OWNER_CLI, OWNER_CDK)
        assert cli_tags == cdk_tags, name
        assert sorted(sent) == sorted(properties), name
        for field in sent:
            assert sent[field] == properties[field], f"{name}: {field}"
