"""The optional Glue job of ``--engine spark``: Glue 5.0, small, and an S3 role that reads
only the exports and writes only their snapshots."""

from __future__ import annotations

import subprocess
from pathlib import Path
from typing import Any

import pytest

from deploy.export_snapshot_stack import GLUE_VERSION, WORKERS
from tests.deploy.conftest import CDK_GROUP, Synth, synthesize
from tests.deploy.test_cfn_lint import _cfn_lint

pytestmark = CDK_GROUP


@pytest.fixture(scope="module")
def with_job(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    context = {"exportSnapshotJob": "true", "exportPrefix": "ddb/"}
    return synthesize(tmp_path_factory.mktemp("cdk.out-export"), context)


def _statements(with_job: Synth) -> list[dict[str, Any]]:
    policies = with_job.template("export_snapshot").find_resources("AWS::IAM::Policy")
    (policy,) = policies.values()
    statements: list[dict[str, Any]] = policy["Properties"]["PolicyDocument"]["Statement"]
    return statements


def _actions(statement: dict[str, Any]) -> list[str]:
    actions = statement["Action"]
    return [actions] if isinstance(actions, str) else list(actions)


def test_the_job_is_absent_unless_asked_for(synth: Synth) -> None:
    assert synth.stacks.export_snapshot is None
    assert "ExportSnapshotStack" not in synth.template_files


def test_the_job_runs_the_reconcilers_own_script_on_glue_5_with_two_workers(
    with_job: Synth,
) -> None:
    template = with_job.template("export_snapshot")
    (job,) = template.find_resources("AWS::Glue::Job").values()
    properties = job["Properties"]
    assert (properties["GlueVersion"], properties["NumberOfWorkers"]) == (GLUE_VERSION, WORKERS)
    assert GLUE_VERSION == "5.0"
    assert properties["Command"]["Name"] == "glueetl"
    assert properties["DefaultArguments"]["--event-partitions"] == "FAD,EVENT"
    scripts = [p for p in with_job.outdir.rglob("*.py") if p.name.endswith(".py")]
    assert any("def run(spark" in p.read_text(encoding="utf-8") for p in scripts)


def test_the_role_reads_only_the_exports_and_writes_only_their_snapshots(with_job: Synth) -> None:
    statements = _statements(with_job)
    writes = [s for s in statements if {"s3:PutObject", "s3:DeleteObject"} & set(_actions(s))]
    (write,) = writes
    assert "ddb/AWSDynamoDB/*/reconciler-snapshot/*" in str(write["Resource"])
    for statement in statements:
        actions = _actions(statement)
        assert not any(action.endswith("*") and action.startswith("s3:Put") for action in actions)
        assert not any(action.startswith("dynamodb:") for action in actions)
        if "s3:GetObject" in actions and "ddb/" in str(statement["Resource"]):
            assert "ddb/AWSDynamoDB/*" in str(statement["Resource"])
    listing = next(s for s in statements if "s3:ListBucket" in _actions(s))
    prefixes = listing["Condition"]["StringLike"]["s3:prefix"]
    assert prefixes == ["ddb/AWSDynamoDB", "ddb/AWSDynamoDB/*"]


def test_cfn_lint_finds_nothing_in_the_job_template(with_job: Synth) -> None:
    template: Path = with_job.template_files["ExportSnapshotStack"]
    result = subprocess.run(
        [_cfn_lint(), "--format", "parseable", "-i", "W3005", "--", str(template)],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_job_finds_the_bucket_by_its_exported_name_so_it_can_be_turned_off(
    with_job: Synth,
) -> None:
    # A cross-stack reference would pin an export of StatefulStack for as long as the job
    # stack exists; the exported name keeps the two independent, as in the export mode.
    template = str(with_job.template("export_snapshot").to_json())
    assert "'Fn::ImportValue': 'BucketName'" in template
    assert "StatefulStack:ExportsOutput" not in template
