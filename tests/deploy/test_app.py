"""The app wires the stacks together: names flow from StatelessStack into the alarms, in order."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.kernel import deployment_spec as spec
from tests.deploy.conftest import CDK_GROUP, Synth
from tests.deploy.template_helpers import resources_of_type

pytestmark = CDK_GROUP


@pytest.fixture(scope="module")
def alarms(synth: Synth) -> list[dict[str, Any]]:
    template = synth.raw("monitoring")
    return [r["Properties"] for r in resources_of_type(template, "AWS::CloudWatch::Alarm").values()]


def test_app_has_the_four_stacks_of_the_guide_and_monitoring(synth: Synth) -> None:
    assert set(synth.template_files) == {
        "StatefulStack",
        "StatelessStack",
        "MonitoringStack",
        "ReconcilerStack",
    }


def test_monitoring_stack_has_one_alarm_per_spec_entry(
    synth: Synth, alarms: list[dict[str, Any]]
) -> None:
    from alarms.spec import SpecParameters, build_specs

    expected = build_specs(
        SpecParameters(
            function_name=spec.HANDLER_FUNCTION_NAME,
            timeout_seconds=spec.HANDLER_TIMEOUT_SECONDS,
            on_failure_queue_name=synth.stacks.stateless.on_failure_queue_name,
            reconciler_namespace=synth.stacks.reconciler.cloudwatch_namespace,
        )
    )
    assert len(alarms) == len(expected) == 10
    assert sorted(a["AlarmName"] for a in alarms) == sorted(
        s.name("attendee-counter") for s in expected
    )


def test_alarms_watch_the_deployed_function_queue_and_reconciler_namespace(
    synth: Synth, alarms: list[dict[str, Any]]
) -> None:
    dimensions = json.dumps([a.get("Dimensions", []) for a in alarms])
    assert f'"Value": "{spec.HANDLER_FUNCTION_NAME}"' in dimensions
    queue_alarms = [a for a in alarms if a.get("Namespace") == "AWS/SQS"]
    assert [a["Dimensions"] for a in queue_alarms] == [
        [{"Name": "QueueName", "Value": synth.stacks.stateless.on_failure_queue_name}]
    ]
    namespaces = {a.get("Namespace") for a in alarms}
    assert synth.stacks.reconciler.cloudwatch_namespace in namespaces


def test_every_alarm_notifies_the_stacks_topic_on_alarm_and_on_ok(
    synth: Synth, alarms: list[dict[str, Any]]
) -> None:
    (topic_id,) = resources_of_type(synth.raw("monitoring"), "AWS::SNS::Topic")
    for alarm in alarms:
        assert alarm["AlarmActions"] == [{"Ref": topic_id}], alarm["AlarmName"]
        assert alarm["OKActions"] == [{"Ref": topic_id}], alarm["AlarmName"]


def test_stacks_deploy_in_the_guides_order(synth: Synth) -> None:
    stacks = synth.stacks
    assert stacks.stateful in stacks.stateless.dependencies
    assert stacks.stateless in stacks.monitoring.dependencies
    assert stacks.stateful in stacks.reconciler.dependencies


def test_alarm_email_subscriptions_come_from_context(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from aws_cdk.assertions import Template

    from deploy.app import build_app

    stacks = build_app(
        str(tmp_path_factory.mktemp("email")), {"alarmEmail": "ops@example.com, oncall@example.com"}
    )
    template = Template.from_stack(stacks.monitoring)
    template.resource_count_is("AWS::SNS::Subscription", 2)
    template.has_resource_properties(
        "AWS::SNS::Subscription", {"Protocol": "email", "Endpoint": "oncall@example.com"}
    )


def runbook_links(alarms: list[dict[str, Any]]) -> dict[str, str]:
    """Alarm key -> the runbook URL its description ends with."""
    links = {}
    for alarm in alarms:
        key = next(t["Value"] for t in alarm["Tags"] if t["Key"] == "AlarmKey")
        _, _, links[key] = alarm["AlarmDescription"].rpartition(" Runbook: ")
    return links


def test_without_context_alarms_link_the_runbook_pages_in_the_docs(
    alarms: list[dict[str, Any]],
) -> None:
    docs = "https://github.com/attendee-counter/reconciler/blob/main/docs/runbooks"
    links = runbook_links(alarms)
    assert len(links) == 10
    assert links == {key: f"{docs}/{key}.md" for key in links}


def test_runbook_url_template_comes_from_context(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from deploy.app import build_app

    stacks = build_app(
        str(tmp_path_factory.mktemp("runbooks")),
        {"runbookUrlTemplate": "https://wiki.example.com/oncall/{name}"},
    )
    template = stacks.app.synth().get_stack_by_name("MonitoringStack").template
    alarms = [
        r["Properties"] for r in resources_of_type(template, "AWS::CloudWatch::Alarm").values()
    ]
    links = runbook_links(alarms)
    assert len(links) == 10
    assert links == {key: f"https://wiki.example.com/oncall/{key}" for key in links}


def test_a_bad_runbook_url_template_in_context_exits_2_naming_the_context_key(
    tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    from deploy.app import main

    out = tmp_path_factory.mktemp("bad-runbooks")
    code = main(["--out", str(out), "-c", "runbookUrlTemplate=https://wiki.example.com/oncall"])

    assert code == 2
    err = capsys.readouterr().err
    assert "context runbookUrlTemplate: must contain {name}" in err
    assert list(out.glob("*.template.json")) == []


def test_synth_command_writes_every_template(tmp_path_factory: pytest.TempPathFactory) -> None:
    from deploy.app import main

    out = tmp_path_factory.mktemp("cli")
    assert main(["--out", str(out)]) == 0
    assert {p.name for p in out.glob("*.template.json")} == {
        "StatefulStack.template.json",
        "StatelessStack.template.json",
        "MonitoringStack.template.json",
        "ReconcilerStack.template.json",
    }
