"""ReconcilerStack replays the stream mapping's on-failure queue: the chain from a dropped batch
to its replay is wired by the app, and the task may touch that queue and that stream only."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.model import TableModel
from reconciler.kernel.settings import env_name
from tests.deploy.conftest import CDK_GROUP, Synth
from tests.deploy.template_helpers import (
    IMPORTED_TABLE_ARN,
    STREAM_ARN_IMPORT,
    actions_of,
    only_resource,
    resources_of_type,
)

pytestmark = CDK_GROUP

QUEUE_ENV = env_name("--on-failure-queue-url")
QUEUE_ARN = {
    "Fn::Join": [
        "",
        [
            "arn:",
            {"Ref": "AWS::Partition"},
            ":sqs:",
            {"Ref": "AWS::Region"},
            ":",
            {"Ref": "AWS::AccountId"},
            f":{spec.ON_FAILURE_QUEUE_NAME}",
        ],
    ]
}


@pytest.fixture(scope="module")
def template(synth: Synth) -> dict[str, Any]:
    return synth.raw("reconciler")


def _statements(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {
        statement["Sid"]: statement
        for policy in resources_of_type(template, "AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        if "Sid" in statement
    }


def _environment(template: dict[str, Any]) -> dict[str, Any]:
    _, task_definition = only_resource(template, "AWS::ECS::TaskDefinition")
    (container,) = task_definition["Properties"]["ContainerDefinitions"]
    return {item["Name"]: item["Value"] for item in container["Environment"]}


def test_serve_reads_the_queue_url_from_the_variable_its_settings_know() -> None:
    assert QUEUE_ENV == "RECONCILER_ON_FAILURE_QUEUE_URL"


def test_the_container_is_given_the_url_of_the_mappings_on_failure_queue(
    template: dict[str, Any], synth: Synth
) -> None:
    url = _environment(template)[QUEUE_ENV]
    assert url == {
        "Fn::Join": [
            "",
            [
                "https://sqs.",
                {"Ref": "AWS::Region"},
                ".",
                {"Ref": "AWS::URLSuffix"},
                "/",
                {"Ref": "AWS::AccountId"},
                f"/{spec.ON_FAILURE_QUEUE_NAME}",
            ],
        ]
    }
    assert synth.stacks.stateless.on_failure_queue_name == spec.ON_FAILURE_QUEUE_NAME


def test_the_mapping_sends_dropped_batches_to_the_queue_of_that_name(synth: Synth) -> None:
    stateless = synth.raw("stateless")
    _, queue = only_resource(stateless, "AWS::SQS::Queue")
    assert queue["Properties"]["QueueName"] == spec.ON_FAILURE_QUEUE_NAME
    _, mapping = only_resource(stateless, "AWS::Lambda::EventSourceMapping")
    destination = mapping["Properties"]["DestinationConfig"]["OnFailure"]["Destination"]
    queue_id = next(iter(resources_of_type(stateless, "AWS::SQS::Queue")))
    assert destination == {"Fn::GetAtt": [queue_id, "Arn"]}


def test_the_task_may_receive_and_delete_on_that_queue_only(template: dict[str, Any]) -> None:
    statement = _statements(template)["ReplayOnFailureQueue"]
    assert (
        sorted(actions_of(statement))
        == sorted(spec.REPLAY_QUEUE_ACTIONS)
        == [
            "sqs:ChangeMessageVisibility",
            "sqs:DeleteMessage",
            "sqs:GetQueueAttributes",
            "sqs:ReceiveMessage",
        ]
    )
    assert statement["Resource"] == QUEUE_ARN
    sqs_grants = [
        s
        for s in _statements(template).values()
        if any(a.startswith("sqs:") for a in actions_of(s))
    ]
    assert sqs_grants == [statement]


def test_the_task_reads_the_imported_stream_and_never_lists_streams(
    template: dict[str, Any],
) -> None:
    statement = _statements(template)["ReplayStreamRange"]
    assert sorted(actions_of(statement)) == [
        "dynamodb:DescribeStream",
        "dynamodb:GetRecords",
        "dynamodb:GetShardIterator",
    ]
    assert statement["Resource"] == STREAM_ARN_IMPORT
    every_action = {a for s in _statements(template).values() for a in actions_of(s)}
    assert "dynamodb:ListStreams" not in every_action


def test_the_replayed_handler_reads_event_items_only(template: dict[str, Any]) -> None:
    statement = _statements(template)["ReplayReadEvents"]
    assert actions_of(statement) == ["dynamodb:BatchGetItem"]
    assert statement["Resource"] == IMPORTED_TABLE_ARN
    assert statement["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": list(TableModel().event_partitions)}
    }


def test_the_queue_is_sqs_managed_so_no_kms_grant_is_needed(
    template: dict[str, Any], synth: Synth
) -> None:
    _, queue = only_resource(synth.raw("stateless"), "AWS::SQS::Queue")
    assert queue["Properties"]["SqsManagedSseEnabled"] is True
    assert "KmsMasterKeyId" not in queue["Properties"]
    every_action = {a for s in _statements(template).values() for a in actions_of(s)}
    assert not [a for a in every_action if a.startswith("kms:")]


def test_the_reconciler_deploys_after_the_stack_that_creates_the_queue(synth: Synth) -> None:
    assert synth.stacks.stateless in synth.stacks.reconciler.dependencies


def test_without_a_queue_the_stack_neither_replays_nor_grants_it(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from aws_cdk import App
    from aws_cdk.assertions import Match, Template

    from deploy.reconciler_stack import ReconcilerStack

    app = App(outdir=str(tmp_path_factory.mktemp("no-replay")))
    stack = ReconcilerStack(app, "NoReplay", on_failure_queue_name=None)
    template = Template.from_stack(stack)
    template.has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {
            "ContainerDefinitions": [
                {
                    "Environment": Match.not_(
                        Match.array_with([Match.object_like({"Name": QUEUE_ENV})])
                    )
                }
            ]
        },
    )
    sids = {
        statement.get("Sid")
        for policy in template.find_resources("AWS::IAM::Policy").values()
        for statement in policy["Properties"]["PolicyDocument"]["Statement"]
    }
    assert not {sid for sid in sids if sid and sid.startswith("Replay")}


def test_the_monitoring_stack_alarms_on_messages_the_replay_keeps(synth: Synth) -> None:
    from aws_cdk.assertions import Match

    synth.template("monitoring").has_resource_properties(
        "AWS::CloudWatch::Alarm",
        {
            "AlarmName": "attendee-counter-reconciler-replay-kept-messages-maximum-warning",
            "MetricName": spec.METRIC_REPLAY_KEPT,
            "Namespace": synth.stacks.reconciler.cloudwatch_namespace,
            "Statistic": "Maximum",
            "Threshold": 0,
            "ComparisonOperator": "GreaterThanThreshold",
            "AlarmDescription": Match.string_like_regexp("replay-kept-messages"),
        },
    )


def test_the_reconciler_publishes_where_that_alarm_looks(template: dict[str, Any]) -> None:
    env = _environment(template)
    assert env["RECONCILER_CLOUDWATCH_NAMESPACE"] == spec.RECONCILER_METRICS_NAMESPACE
    assert QUEUE_ENV in env


def test_the_stack_tells_doctor_the_queue_its_container_replays_and_its_task_role(
    template: dict[str, Any], synth: Synth
) -> None:
    outputs = template["Outputs"]
    queue_output = outputs[spec.RECONCILER_QUEUE_URL_OUTPUT]["Value"]
    assert queue_output == _environment(template)[QUEUE_ENV]
    _, task_definition = only_resource(template, "AWS::ECS::TaskDefinition")
    role = outputs[spec.RECONCILER_TASK_ROLE_OUTPUT]["Value"]
    assert role == task_definition["Properties"]["TaskRoleArn"]
    assert synth.stacks.reconciler.stack_name == spec.RECONCILER_STACK_NAME
