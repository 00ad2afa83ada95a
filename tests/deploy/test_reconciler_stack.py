"""ReconcilerStack: the serve container on Fargate, least privilege, metrics inside the VPC."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.model import TableModel
from tests.deploy.conftest import CDK_GROUP, Synth
from tests.deploy.template_helpers import (
    IMPORTED_STATE_TABLE_ARN,
    IMPORTED_TABLE_ARN,
    STATE_TABLE_NAME_IMPORT,
    actions_of,
    only_resource,
    policy_statements,
    resources_of_type,
)

pytestmark = CDK_GROUP

METRICS_PORT = 9464
REPO_ROOT = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def template(synth: Synth) -> dict[str, Any]:
    return synth.raw("reconciler")


def _task_role_statements(template: dict[str, Any]) -> dict[str, dict[str, Any]]:
    _, task_definition = only_resource(template, "AWS::ECS::TaskDefinition")
    role_id = task_definition["Properties"]["TaskRoleArn"]["Fn::GetAtt"][0]
    statements: dict[str, dict[str, Any]] = {}
    for policy in resources_of_type(template, "AWS::IAM::Policy").values():
        if {"Ref": role_id} in policy["Properties"]["Roles"]:
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]:
                statements[statement["Sid"]] = statement
    return statements


def _container(template: dict[str, Any]) -> dict[str, Any]:
    _, task_definition = only_resource(template, "AWS::ECS::TaskDefinition")
    (container,) = task_definition["Properties"]["ContainerDefinitions"]
    return container


def test_task_role_counts_scans_and_corrects_with_five_table_actions(
    template: dict[str, Any],
) -> None:
    statements = _task_role_statements(template)
    count = statements["CountAttendees"]
    assert sorted(actions_of(count)) == [
        "dynamodb:DescribeTable",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:Scan",
    ]
    assert count["Resource"] == IMPORTED_TABLE_ARN
    assert "Condition" not in count
    correct = statements["CorrectCounters"]
    assert actions_of(correct) == ["dynamodb:UpdateItem"]
    assert correct["Resource"] == IMPORTED_TABLE_ARN


def test_corrections_may_only_update_event_items_never_attendee_items(
    template: dict[str, Any],
) -> None:
    # Every statement that allows UpdateItem on the registration table is confined to event or
    # lock partitions, so the task role cannot modify an attendee item (personal data). The only
    # other grant of it is on the state table, which holds no attendee item.
    allowed = {*TableModel().event_partitions, TableModel().lock_partition}
    updating = [
        statement
        for statement in _task_role_statements(template).values()
        if "dynamodb:UpdateItem" in actions_of(statement)
    ]
    granting = [s for s in updating if s["Resource"] != IMPORTED_STATE_TABLE_ARN]
    assert [s["Sid"] for s in updating if s not in granting] == ["KeepLedger"]
    assert granting
    for statement in granting:
        assert statement["Resource"] == IMPORTED_TABLE_ARN
        keys = statement["Condition"]["ForAllValues:StringEquals"]["dynamodb:LeadingKeys"]
        assert set(keys) <= allowed
        assert not any(key.endswith(TableModel().attendee_suffix) for key in keys)
    correct = _task_role_statements(template)["CorrectCounters"]
    assert correct["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": list(TableModel().event_partitions)}
    }


def test_lease_writes_are_confined_to_the_lock_partition(template: dict[str, Any]) -> None:
    statement = _task_role_statements(template)["LeaderLease"]
    assert sorted(actions_of(statement)) == [
        "dynamodb:DeleteItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
        "dynamodb:UpdateItem",
    ]
    assert statement["Resource"] == IMPORTED_TABLE_ARN
    assert statement["Condition"] == {
        "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [TableModel().lock_partition]}
    }
    assert TableModel().lock_partition == "_RECONCILER"


def test_the_ledger_is_read_and_rewritten_on_the_imported_state_table_only(
    template: dict[str, Any],
) -> None:
    statements = _task_role_statements(template)
    ledger = statements["KeepLedger"]
    assert (
        sorted(actions_of(ledger))
        == sorted(spec.RECONCILER_STATE_TABLE_ACTIONS)
        == [
            "dynamodb:BatchGetItem",
            "dynamodb:ConditionCheckItem",
            "dynamodb:DeleteItem",
            "dynamodb:GetItem",
            "dynamodb:PutItem",
            "dynamodb:Query",
            "dynamodb:UpdateItem",
        ]
    )
    assert ledger["Resource"] == IMPORTED_STATE_TABLE_ARN
    assert "Condition" not in ledger
    others = [s for sid, s in statements.items() if sid != "KeepLedger"]
    assert not [s for s in others if s["Resource"] == IMPORTED_STATE_TABLE_ARN]


def test_metrics_publishing_is_limited_to_the_reconciler_namespace(
    template: dict[str, Any], synth: Synth
) -> None:
    statements = _task_role_statements(template)
    publish = statements["PublishPassMetrics"]
    assert actions_of(publish) == ["cloudwatch:PutMetricData"]
    assert publish["Condition"] == {
        "StringEquals": {"cloudwatch:namespace": synth.stacks.reconciler.cloudwatch_namespace}
    }
    assert actions_of(statements["ReadHandlerIteratorAge"]) == ["cloudwatch:GetMetricStatistics"]


def test_task_role_grants_nothing_else(template: dict[str, Any]) -> None:
    statements = _task_role_statements(template).values()
    actions = {action for statement in statements for action in actions_of(statement)}
    assert actions == {
        "dynamodb:Query",
        "dynamodb:GetItem",
        "dynamodb:Scan",
        "dynamodb:DescribeTable",
        "dynamodb:BatchGetItem",
        "dynamodb:UpdateItem",
        "dynamodb:PutItem",
        "dynamodb:DeleteItem",
        "dynamodb:ConditionCheckItem",
        "cloudwatch:PutMetricData",
        "cloudwatch:GetMetricStatistics",
        *spec.REPLAY_QUEUE_ACTIONS,
        *spec.REPLAY_STREAM_ACTIONS,
    }
    assert all(statement["Effect"] == "Allow" for statement in statements)


def test_no_role_in_the_stack_has_wildcard_actions_or_managed_policies(
    template: dict[str, Any],
) -> None:
    actions = [a for s in policy_statements(template) for a in actions_of(s)]
    assert not [action for action in actions if "*" in action]
    for role in resources_of_type(template, "AWS::IAM::Role").values():
        assert "ManagedPolicyArns" not in role["Properties"]


def test_execution_role_only_pulls_the_image_and_writes_logs(template: dict[str, Any]) -> None:
    task_role_sids = set(_task_role_statements(template))
    other = [s for s in policy_statements(template) if s.get("Sid") not in task_role_sids]
    actions = {a for s in other for a in actions_of(s)}
    assert actions <= {
        "ecr:BatchCheckLayerAvailability",
        "ecr:BatchGetImage",
        "ecr:GetDownloadUrlForLayer",
        "ecr:GetAuthorizationToken",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    assert "ecr:BatchGetImage" in actions


def test_container_runs_serve_with_the_table_from_the_stateful_export(
    template: dict[str, Any],
) -> None:
    container = _container(template)
    assert container["Command"] == ["serve"]
    assert "EntryPoint" not in container  # the image's ENTRYPOINT ["reconciler"]
    env = {item["Name"]: item["Value"] for item in container["Environment"]}
    assert env["TABLE_NAME"] == {"Fn::ImportValue": spec.TABLE_NAME_EXPORT}
    assert env["RECONCILER_STATE_TABLE"] == STATE_TABLE_NAME_IMPORT
    assert env["RECONCILER_PORT"] == str(METRICS_PORT)
    assert env["RECONCILER_HANDLER_FUNCTION_NAME"] == spec.HANDLER_FUNCTION_NAME
    assert env["RECONCILER_CLOUDWATCH_NAMESPACE"]
    assert container["PortMappings"] == [
        {"ContainerPort": METRICS_PORT, "Name": "metrics", "Protocol": "tcp"}
    ]
    assert container["ReadonlyRootFilesystem"] is True


def test_ecs_waits_longer_than_serve_takes_to_shut_down(template: dict[str, Any]) -> None:
    from reconciler.kernel.settings import parse_duration

    container = _container(template)
    env = {item["Name"]: item["Value"] for item in container["Environment"]}
    shutdown = parse_duration(env["RECONCILER_SHUTDOWN_TIMEOUT"], "RECONCILER_SHUTDOWN_TIMEOUT")
    assert 0 < shutdown < container["StopTimeout"] <= 120


def test_container_health_check_asks_healthz_on_the_metrics_port(
    template: dict[str, Any],
) -> None:
    check = _container(template)["HealthCheck"]
    assert check["Command"][:3] == ["CMD", "python", "-c"]
    assert f"http://127.0.0.1:{METRICS_PORT}/healthz" in check["Command"][3]
    assert check["Retries"] >= 2


def test_container_logs_go_to_cloudwatch_with_retention(template: dict[str, Any]) -> None:
    log_group_id, log_group = only_resource(template, "AWS::Logs::LogGroup")
    assert log_group["Properties"]["RetentionInDays"] > 0
    logging = _container(template)["LogConfiguration"]
    assert logging["LogDriver"] == "awslogs"
    assert logging["Options"]["awslogs-group"] == {"Ref": log_group_id}


def test_metrics_port_is_open_to_the_vpc_only(template: dict[str, Any]) -> None:
    vpc_id, _ = only_resource(template, "AWS::EC2::VPC")
    _, group = only_resource(template, "AWS::EC2::SecurityGroup")
    ingress = group["Properties"]["SecurityGroupIngress"]
    assert [(r["FromPort"], r["ToPort"], r["IpProtocol"]) for r in ingress] == [
        (METRICS_PORT, METRICS_PORT, "tcp")
    ]
    assert ingress[0]["CidrIp"] == {"Fn::GetAtt": [vpc_id, "CidrBlock"]}
    assert not resources_of_type(template, "AWS::EC2::SecurityGroupIngress")
    everything = json.dumps(group["Properties"]["SecurityGroupIngress"])
    assert "0.0.0.0/0" not in everything
    assert "::/0" not in everything


def test_service_egress_is_https_only(template: dict[str, Any]) -> None:
    _, group = only_resource(template, "AWS::EC2::SecurityGroup")
    egress = group["Properties"]["SecurityGroupEgress"]
    assert [(r["IpProtocol"], r["FromPort"], r["ToPort"]) for r in egress] == [("tcp", 443, 443)]


def test_service_runs_one_task_in_private_subnets_with_rollback(
    template: dict[str, Any],
) -> None:
    _, service = only_resource(template, "AWS::ECS::Service")
    props = service["Properties"]
    assert props["DesiredCount"] == 1
    assert props["LaunchType"] == "FARGATE"
    network = props["NetworkConfiguration"]["AwsvpcConfiguration"]
    assert network["AssignPublicIp"] == "DISABLED"
    private_subnets = {
        logical_id
        for logical_id, subnet in resources_of_type(template, "AWS::EC2::Subnet").items()
        if subnet["Properties"]["MapPublicIpOnLaunch"] is False
    }
    assert {subnet["Ref"] for subnet in network["Subnets"]} == private_subnets
    assert props["DeploymentConfiguration"]["DeploymentCircuitBreaker"] == {
        "Enable": True,
        "Rollback": True,
    }


def test_dynamodb_traffic_stays_on_the_gateway_endpoint(template: dict[str, Any]) -> None:
    _, endpoint = only_resource(template, "AWS::EC2::VPCEndpoint")
    assert endpoint["Properties"]["VpcEndpointType"] == "Gateway"
    assert "dynamodb" in json.dumps(endpoint["Properties"]["ServiceName"])


def test_reconciler_deploys_after_the_stateful_stack(synth: Synth) -> None:
    assert synth.stacks.stateful in synth.stacks.reconciler.dependencies


# ---- the container image asset ---------------------------------------------------------------


@pytest.fixture(scope="module")
def image_source(synth: Synth) -> Path:
    stack_name = synth.stacks.reconciler.stack_name
    assets = json.loads((synth.outdir / f"{stack_name}.assets.json").read_text())
    (image,) = assets["dockerImages"].values()
    assert image["source"]["dockerFile"] == "Dockerfile"
    return synth.outdir / image["source"]["directory"]


def test_image_asset_stages_only_what_the_dockerfile_builds_from(image_source: Path) -> None:
    top_level = {path.name for path in image_source.iterdir()}
    assert top_level == {
        "Dockerfile",
        ".dockerignore",
        "pyproject.toml",
        "README.md",
        "reconciler",
        "alarms",
    }
    assert (image_source / "Dockerfile").read_bytes() == (REPO_ROOT / "Dockerfile").read_bytes()
    assert not list(image_source.rglob("__pycache__"))


def test_image_asset_never_contains_the_virtualenv_or_git(image_source: Path) -> None:
    for unwanted in (".venv", ".git", "cdk.out", "node_modules", ".tools", "tests"):
        assert not (image_source / unwanted).exists(), unwanted


# ---- settings --------------------------------------------------------------------------------


def test_two_replicas_can_be_asked_for_through_context(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from aws_cdk.assertions import Template

    from deploy.app import build_app

    stacks = build_app(str(tmp_path_factory.mktemp("two")), {"reconcilerDesiredCount": "2"})
    Template.from_stack(stacks.reconciler).has_resource_properties(
        "AWS::ECS::Service", {"DesiredCount": 2}
    )


def test_more_than_two_replicas_is_refused() -> None:
    from aws_cdk import App

    from deploy.reconciler_stack import ReconcilerStack

    with pytest.raises(ValueError, match="desired_count must be 1 or 2"):
        ReconcilerStack(App(), "TooMany", desired_count=3)


def _serve_options() -> set[str]:
    import argparse

    from reconciler.cli import build_parser

    parser = build_parser()
    (subparsers,) = [a for a in parser._actions if isinstance(a, argparse._SubParsersAction)]
    serve = subparsers.choices["serve"]
    return {option for action in serve._actions for option in action.option_strings}


def test_every_reconciler_setting_in_the_container_is_a_serve_flag(
    template: dict[str, Any],
) -> None:
    from reconciler.kernel.settings import env_name

    understood = {env_name(option) for option in _serve_options() if option.startswith("--")}
    env = {item["Name"] for item in _container(template)["Environment"]}
    assert {name for name in env if name.startswith("RECONCILER_")} <= understood
