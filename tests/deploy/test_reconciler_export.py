"""ReconcilerStack's export mode (``-c reconcilerFromExport=new``): settings and exact grants."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from deploy.export_mode import RECONCILER_FROM_EXPORT_CONTEXT, export_mode
from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.errors import ConfigError
from tests.deploy.conftest import CDK_GROUP, Synth
from tests.deploy.template_helpers import (
    IMPORTED_TABLE_ARN,
    actions_of,
    only_resource,
    policy_statements,
)

pytestmark = CDK_GROUP

BUCKET_NAME_IMPORT = {"Fn::ImportValue": spec.BUCKET_NAME_EXPORT}
EXPORT_SIDS = ("RequestTableExport", "FollowTableExport", "WriteAndReadExports", "ListExports")
ADOPTED_TABLE_ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/registrations"


def _bucket_arn(suffix: str = "") -> dict[str, Any]:
    parts: list[Any] = ["arn:", {"Ref": "AWS::Partition"}, ":s3:::", BUCKET_NAME_IMPORT]
    return {"Fn::Join": ["", [*parts, suffix] if suffix else parts]}


def _with_suffix(arn: Any, suffix: str) -> Any:
    if isinstance(arn, str):
        return arn + suffix
    return {"Fn::Join": ["", [*arn["Fn::Join"][1], suffix]]}


def _export_statements(table_arn: Any, prefix: str) -> list[dict[str, Any]]:
    return [
        {
            "Sid": "RequestTableExport",
            "Effect": "Allow",
            "Action": "dynamodb:ExportTableToPointInTime",
            "Resource": table_arn,
        },
        {
            "Sid": "FollowTableExport",
            "Effect": "Allow",
            "Action": "dynamodb:DescribeExport",
            "Resource": _with_suffix(table_arn, "/export/*"),
        },
        {
            "Sid": "WriteAndReadExports",
            "Effect": "Allow",
            "Action": ["s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"],
            "Resource": _bucket_arn(f"/{prefix}/*"),
        },
        {
            "Sid": "ListExports",
            "Effect": "Allow",
            "Action": "s3:ListBucket",
            "Resource": _bucket_arn(),
            "Condition": {"StringLike": {"s3:prefix": [f"{prefix}/*"]}},
        },
    ]


def _environment(app: Synth) -> dict[str, Any]:
    _, task_definition = only_resource(app.raw("reconciler"), "AWS::ECS::TaskDefinition")
    (container,) = task_definition["Properties"]["ContainerDefinitions"]
    return {item["Name"]: item["Value"] for item in container["Environment"]}


def test_export_mode_grants_exactly_the_export_statements(exporting: Synth) -> None:
    from aws_cdk.assertions import Match

    exporting.template("reconciler").has_resource_properties(
        "AWS::IAM::Policy",
        {
            "PolicyDocument": {
                "Statement": Match.array_with(_export_statements(IMPORTED_TABLE_ARN, "exports"))
            }
        },
    )
    granted = [s for s in policy_statements(exporting.raw("reconciler")) if s.get("Sid")]
    assert [s for s in granted if s["Sid"] in EXPORT_SIDS] == _export_statements(
        IMPORTED_TABLE_ARN, "exports"
    )


def test_export_mode_runs_serve_from_a_fresh_export_into_the_stateful_bucket(
    exporting: Synth,
) -> None:
    environment = _environment(exporting)
    assert {k: v for k, v in environment.items() if "EXPORT" in k or k == "RECONCILER_EVERY"} == {
        "RECONCILER_FROM_EXPORT": "new",
        "RECONCILER_EXPORT_BUCKET": BUCKET_NAME_IMPORT,
        "RECONCILER_EXPORT_PREFIX": "exports",
        "RECONCILER_EXPORT_TIMEOUT": "50m",
        "RECONCILER_EVERY": "1h",
    }
    stateful_exports = {
        output["Export"]["Name"]: output["Value"]
        for output in exporting.raw("stateful")["Outputs"].values()
        if "Export" in output
    }
    bucket_id, _ = only_resource(exporting.raw("stateful"), "AWS::S3::Bucket")
    assert stateful_exports[spec.BUCKET_NAME_EXPORT] == {"Ref": bucket_id}


def test_export_mode_gives_duckdb_memory_and_a_writable_place_to_spill(exporting: Synth) -> None:
    from aws_cdk.assertions import Match

    exporting.template("reconciler").has_resource_properties(
        "AWS::ECS::TaskDefinition",
        {
            "Cpu": "1024",
            "Memory": "2048",
            "ContainerDefinitions": [
                Match.object_like(
                    {
                        "WorkingDirectory": "/tmp",
                        "ReadonlyRootFilesystem": True,
                        "MountPoints": [
                            {"ContainerPath": "/tmp", "ReadOnly": False, "SourceVolume": "tmp"}
                        ],
                    }
                )
            ],
        },
    )


def test_on_an_adopted_table_the_grants_name_the_given_table_and_prefix(
    adopted_exporting: Synth,
) -> None:
    granted = policy_statements(adopted_exporting.raw("reconciler"))
    assert [s for s in granted if s.get("Sid") in EXPORT_SIDS] == _export_statements(
        ADOPTED_TABLE_ARN, "n"
    )
    assert _environment(adopted_exporting)["RECONCILER_EXPORT_PREFIX"] == "n"


def test_without_the_context_value_the_service_reads_the_table_live(synth: Synth) -> None:
    template = synth.raw("reconciler")
    environment = _environment(synth)
    assert not [name for name in environment if "EXPORT" in name or name == "RECONCILER_EVERY"]
    actions = {a for s in policy_statements(template) for a in actions_of(s)}
    assert not [a for a in actions if a.startswith("s3:") or "Export" in a]
    assert not {s.get("Sid") for s in policy_statements(template)} & set(EXPORT_SIDS)
    synth.template("reconciler").has_resource_properties(
        "AWS::ECS::TaskDefinition", {"Cpu": "256", "Memory": "512"}
    )
    assert "ExportBucket" not in str(template)
    _, task_definition = only_resource(template, "AWS::ECS::TaskDefinition")
    assert "WorkingDirectory" not in task_definition["Properties"]["ContainerDefinitions"][0]


@pytest.mark.parametrize(
    ("context", "key"),
    [
        ({RECONCILER_FROM_EXPORT_CONTEXT: "s3://bucket/exports/"}, RECONCILER_FROM_EXPORT_CONTEXT),
        ({RECONCILER_FROM_EXPORT_CONTEXT: "new", "exportPrefix": "exp*"}, "exportPrefix"),
        ({RECONCILER_FROM_EXPORT_CONTEXT: "new", "exportPrefix": "a//b"}, "exportPrefix"),
    ],
)
def test_a_mode_or_prefix_the_service_cannot_use_fails_the_synth_naming_the_key(
    context: dict[str, str], key: str
) -> None:
    with pytest.raises(ConfigError, match=f"context {key}"):
        export_mode(context.get)


def test_no_context_value_is_no_export_mode() -> None:
    assert export_mode({}.get) is None
    assert export_mode({RECONCILER_FROM_EXPORT_CONTEXT: " "}.get) is None
    mode = export_mode({RECONCILER_FROM_EXPORT_CONTEXT: "new"}.get)
    assert mode is not None
    assert mode.prefix == "exports"


def test_the_app_documents_the_context_value() -> None:
    text = (Path(__file__).resolve().parents[2] / "docs" / "deployment.md").read_text()
    assert f"-c {RECONCILER_FROM_EXPORT_CONTEXT}=new" in text


def test_serve_accepts_the_export_mode_environment_as_the_task_gets_it(exporting: Synth) -> None:
    import argparse

    from reconciler.kernel.settings import Source
    from reconciler.reconcile.export_location import NewExport
    from reconciler.reconcile.settings import add_run_arguments, parse_run_settings
    from reconciler.serve.settings import add_serve_arguments, parse_serve_settings

    imported = {"TABLE_NAME": "registrations", "RECONCILER_STATE_TABLE": "registrations-state"}
    imported |= {"RECONCILER_EXPORT_BUCKET": "app-bucket"}
    environment = {
        name: value if isinstance(value, str) else imported[name]
        for name, value in _environment(exporting).items()
        if isinstance(value, str) or name in imported
    }
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    add_serve_arguments(parser)
    source = Source(parser.parse_args([]), environment)
    run = parse_run_settings(source)
    settings = parse_serve_settings(source, run)
    assert run.from_export == NewExport(bucket="app-bucket", prefix="exports", timeout_seconds=3000)
    assert settings.schedule.every == 3600
