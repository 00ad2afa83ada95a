"""StatelessStack: the handler, its event source mapping and exactly the permissions it uses."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from reconciler.kernel import deployment_spec as spec
from tests.deploy.conftest import CDK_GROUP, Synth
from tests.deploy.template_helpers import (
    IMPORTED_STATE_TABLE_ARN,
    IMPORTED_TABLE_ARN,
    STATE_TABLE_NAME_IMPORT,
    STREAM_ARN_IMPORT,
    TABLE_NAME_IMPORT,
    actions_of,
    only_resource,
    policy_statements,
    resources_of_type,
)

pytestmark = CDK_GROUP


@pytest.fixture(scope="module")
def template(synth: Synth) -> dict[str, Any]:
    return synth.raw("stateless")


def _function(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return only_resource(template, "AWS::Lambda::Function")


def _queue_id(template: dict[str, Any]) -> str:
    queue_id, _ = only_resource(template, "AWS::SQS::Queue")
    return queue_id


def test_handler_runs_the_spec_entry_point_with_the_guides_sizing(
    template: dict[str, Any],
) -> None:
    _, function = _function(template)
    props = function["Properties"]
    assert props["FunctionName"] == spec.HANDLER_FUNCTION_NAME == "updateAttendeeCounter"
    assert props["Handler"] == spec.HANDLER_ENTRY_POINT == "reconciler.handler.entry.handler"
    assert props["Runtime"] in {"python3.11", "python3.12"}
    assert props["MemorySize"] == spec.HANDLER_MEMORY_MB == 128
    assert props["Timeout"] == spec.HANDLER_TIMEOUT_SECONDS == 60


def test_handler_finds_both_tables_through_the_stateful_exports(template: dict[str, Any]) -> None:
    from reconciler.kernel.settings import env_name

    _, function = _function(template)
    assert function["Properties"]["Environment"]["Variables"] == {
        "TABLE_NAME": TABLE_NAME_IMPORT,
        "RECONCILER_STATE_TABLE": STATE_TABLE_NAME_IMPORT,
        "RECONCILER_METRICS_NAMESPACE": spec.HANDLER_METRICS_NAMESPACE,
    }
    # The variable the settings engine reads for --state-table.
    assert env_name("--state-table") == "RECONCILER_STATE_TABLE"


def test_event_source_mapping_has_exactly_the_spec_settings(template: dict[str, Any]) -> None:
    function_id, _ = _function(template)
    _, mapping = only_resource(template, "AWS::Lambda::EventSourceMapping")
    assert mapping["Properties"] == {
        "FunctionName": {"Ref": function_id},
        "EventSourceArn": STREAM_ARN_IMPORT,
        "StartingPosition": "TRIM_HORIZON",
        "BatchSize": 10,
        "MaximumBatchingWindowInSeconds": 5,
        "MaximumRetryAttempts": 3,
        "BisectBatchOnFunctionError": True,
        "MaximumRecordAgeInSeconds": spec.MAX_RECORD_AGE_SECONDS,
        "FunctionResponseTypes": ["ReportBatchItemFailures"],
        "DestinationConfig": {
            "OnFailure": {"Destination": {"Fn::GetAtt": [_queue_id(template), "Arn"]}}
        },
        "Enabled": True,
    }
    assert (spec.BATCH_SIZE, spec.BATCHING_WINDOW_SECONDS, spec.MAX_RETRY_ATTEMPTS) == (10, 5, 3)


def test_mapping_waits_for_the_stream_permissions(template: dict[str, Any]) -> None:
    # Lambda validates the role's stream access when it creates the mapping.
    policy_id, _ = only_resource(template, "AWS::IAM::Policy")
    _, mapping = only_resource(template, "AWS::Lambda::EventSourceMapping")
    assert policy_id in mapping["DependsOn"]


def test_on_failure_queue_is_encrypted_and_keeps_messages_14_days(
    template: dict[str, Any],
) -> None:
    _, queue = only_resource(template, "AWS::SQS::Queue")
    assert queue["Properties"] == {
        "QueueName": f"{spec.HANDLER_FUNCTION_NAME}-on-failure",
        "SqsManagedSseEnabled": True,
        "MessageRetentionPeriod": 14 * 24 * 3600,
    }


def test_stream_permissions_are_the_guides_four_on_the_imported_stream(
    template: dict[str, Any],
) -> None:
    granted = {
        action: statement["Resource"]
        for statement in policy_statements(template)
        for action in actions_of(statement)
        if action in spec.STREAM_READ_ACTIONS
    }
    assert set(granted) == set(spec.STREAM_READ_ACTIONS)
    for action in ("dynamodb:DescribeStream", "dynamodb:GetRecords", "dynamodb:GetShardIterator"):
        assert granted[action] == STREAM_ARN_IMPORT
    # IAM has no resource-level permission for ListStreams: it only works on "*".
    assert granted["dynamodb:ListStreams"] == "*"


def test_table_permissions_are_only_the_handlers_on_the_imported_table(
    template: dict[str, Any],
) -> None:
    table_statements = [
        s
        for s in policy_statements(template)
        if any(a.startswith("dynamodb:") for a in actions_of(s))
        and s["Resource"] == IMPORTED_TABLE_ARN
    ]
    assert len(table_statements) == 1
    assert sorted(actions_of(table_statements[0])) == sorted(spec.HANDLER_TABLE_ACTIONS)
    # The event item is read with the batch's ledger entries in one BatchGetItem.
    assert sorted(spec.HANDLER_TABLE_ACTIONS) == [
        "dynamodb:BatchGetItem",
        "dynamodb:GetItem",
        "dynamodb:Query",
        "dynamodb:UpdateItem",
    ]


def test_state_table_permissions_are_the_ledgers_reads_and_transaction_writes(
    template: dict[str, Any],
) -> None:
    state_statements = [
        s for s in policy_statements(template) if s["Resource"] == IMPORTED_STATE_TABLE_ARN
    ]
    assert len(state_statements) == 1
    (statement,) = state_statements
    assert sorted(actions_of(statement)) == sorted(spec.HANDLER_STATE_TABLE_ACTIONS)
    # TransactWriteItems is authorised item by item: Put and ConditionCheck, never Update or
    # Delete (entries are replaced whole).
    assert sorted(spec.HANDLER_STATE_TABLE_ACTIONS) == [
        "dynamodb:BatchGetItem",
        "dynamodb:ConditionCheckItem",
        "dynamodb:GetItem",
        "dynamodb:PutItem",
    ]
    # The state table holds only ledger entries: no partition restriction to keep.
    assert "Condition" not in statement
    assert statement["Effect"] == "Allow"


def test_every_table_action_is_granted_on_exactly_the_table_it_is_meant_for(
    template: dict[str, Any],
) -> None:
    granted = {
        (action, str(statement["Resource"]))
        for statement in policy_statements(template)
        for action in actions_of(statement)
        if action.startswith("dynamodb:")
    }
    scoped_stream_actions = set(spec.STREAM_READ_ACTIONS) - {"dynamodb:ListStreams"}
    assert granted == {
        *((a, str(STREAM_ARN_IMPORT)) for a in scoped_stream_actions),
        ("dynamodb:ListStreams", "*"),
        *((a, str(IMPORTED_TABLE_ARN)) for a in spec.HANDLER_TABLE_ACTIONS),
        *((a, str(IMPORTED_STATE_TABLE_ARN)) for a in spec.HANDLER_STATE_TABLE_ACTIONS),
    }


def test_table_permissions_reach_event_items_only_never_attendee_items(
    template: dict[str, Any],
) -> None:
    from reconciler.kernel.model import TableModel

    table_statements = [
        s
        for s in policy_statements(template)
        if any(a.startswith("dynamodb:") for a in actions_of(s))
        and s["Resource"] == IMPORTED_TABLE_ARN
    ]
    assert table_statements
    for statement in table_statements:
        assert statement["Condition"] == {
            "ForAllValues:StringEquals": {
                "dynamodb:LeadingKeys": list(TableModel().event_partitions)
            }
        }


def test_role_grants_nothing_beyond_stream_table_queue_and_own_logs(
    template: dict[str, Any],
) -> None:
    log_group_id, _ = only_resource(template, "AWS::Logs::LogGroup")
    granted = {
        action: statement["Resource"]
        for statement in policy_statements(template)
        for action in actions_of(statement)
    }
    assert set(granted) == {
        *spec.STREAM_READ_ACTIONS,
        *spec.HANDLER_TABLE_ACTIONS,
        *spec.HANDLER_STATE_TABLE_ACTIONS,
        "sqs:SendMessage",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    assert not [action for action in granted if "*" in action]
    assert granted["sqs:SendMessage"] == {"Fn::GetAtt": [_queue_id(template), "Arn"]}
    assert granted["logs:PutLogEvents"] == {"Fn::GetAtt": [log_group_id, "Arn"]}
    assert all(s["Effect"] == "Allow" for s in policy_statements(template))


def test_role_has_no_managed_policies(template: dict[str, Any]) -> None:
    (_, role), *others = resources_of_type(template, "AWS::IAM::Role").items()
    assert not others
    assert "ManagedPolicyArns" not in role["Properties"]
    assert role["Properties"]["AssumeRolePolicyDocument"]["Statement"][0]["Principal"] == {
        "Service": "lambda.amazonaws.com"
    }


def test_handler_logs_to_its_guide_log_group_with_retention(template: dict[str, Any]) -> None:
    log_group_id, log_group = only_resource(template, "AWS::Logs::LogGroup")
    assert log_group["Properties"]["LogGroupName"] == "/aws/lambda/updateAttendeeCounter"
    assert log_group["Properties"]["RetentionInDays"] > 0
    _, function = _function(template)
    assert function["Properties"]["LoggingConfig"] == {"LogGroup": {"Ref": log_group_id}}


def test_stack_exposes_plain_names_for_the_monitoring_stack(synth: Synth) -> None:
    stateless = synth.stacks.stateless
    assert stateless.handler_function_name == spec.HANDLER_FUNCTION_NAME
    assert stateless.handler_timeout_seconds == spec.HANDLER_TIMEOUT_SECONDS
    assert stateless.on_failure_queue_name == f"{spec.HANDLER_FUNCTION_NAME}-on-failure"


def test_stateless_stack_deploys_after_the_stateful_stack(synth: Synth) -> None:
    assert synth.stacks.stateful in synth.stacks.stateless.dependencies


# ---- the deployment package ------------------------------------------------------------------


@pytest.fixture(scope="module")
def bundle(synth: Synth, template: dict[str, Any]) -> Path:
    _, function = _function(template)
    asset_hash = function["Properties"]["Code"]["S3Key"].removesuffix(".zip")
    return synth.outdir / f"asset.{asset_hash}"


def _files(root: Path) -> set[str]:
    return {str(p.relative_to(root)) for p in root.rglob("*") if p.is_file()}


def test_bundle_holds_the_handler_and_kernel_sources_without_bytecode(bundle: Path) -> None:
    source = Path(__file__).resolve().parents[2] / "reconciler"
    expected = {
        f"reconciler/{p.relative_to(source)}"
        for sub in ("kernel", "handler")
        for p in (source / sub).rglob("*.py")
        if "__pycache__" not in p.parts
    } | {"reconciler/__init__.py"}
    packaged = {name for name in _files(bundle) if name.startswith("reconciler/")}
    assert expected <= packaged
    assert not [name for name in _files(bundle) if "__pycache__" in name or name.endswith(".pyc")]


def test_bundle_vendors_structlog_and_nothing_the_lambda_runtime_provides(bundle: Path) -> None:
    top_level = {path.name for path in bundle.iterdir()}
    assert "structlog" in top_level
    assert not {"boto3", "botocore", "s3transfer", "urllib3"} & top_level
    assert not {"prometheus_client", "apscheduler", "aws_cdk"} & top_level
    assert top_level == {"reconciler", "structlog", *(n for n in top_level if "dist-info" in n)}


def test_bundle_holds_only_the_handler_package_and_the_kernel(bundle: Path) -> None:
    ours = sorted(
        str(path.relative_to(bundle))
        for path in (bundle / "reconciler").rglob("*")
        if path.is_file()
    )
    outside = [
        name
        for name in ours
        if name != "reconciler/__init__.py"
        and not name.startswith(("reconciler/kernel/", "reconciler/handler/"))
    ]
    assert outside == []
    assert "reconciler/handler/entry.py" in ours
    assert "reconciler/kernel/model.py" in ours


def test_bundle_contains_the_handler_module(bundle: Path) -> None:
    module_path = spec.HANDLER_ENTRY_POINT.rsplit(".", 1)[0].replace(".", "/") + ".py"
    source = Path(__file__).resolve().parents[2] / module_path
    assert (bundle / module_path).read_bytes() == source.read_bytes()


LAMBDA_RUNTIME_MODULES = (
    "boto3",
    "botocore",
    "s3transfer",
    "jmespath",
    "dateutil",
    "six",
    "urllib3",
)

_IMPORT_AS_ON_LAMBDA = """
import importlib, sys
bundle, entry, allowed = sys.argv[1], sys.argv[2], set(sys.argv[3].split(","))

class OnlyTheLambdaRuntime:
    # Third-party modules that are neither in the bundle nor in the Lambda runtime must fail.
    def find_spec(self, name, path=None, target=None):
        top = name.partition(".")[0]
        if top in sys.stdlib_module_names or top in allowed:
            return None
        raise ImportError(f"{top} is neither bundled nor provided by the Lambda runtime")

sys.meta_path.insert(0, OnlyTheLambdaRuntime())
sys.path.insert(0, bundle)
module_name, _, function_name = entry.rpartition(".")
module = importlib.import_module(module_name)
assert callable(getattr(module, function_name)), entry
assert module.__file__.startswith(bundle), module.__file__
print("imported", module.__file__)
"""


def test_handler_imports_from_the_bundle_with_only_the_lambda_runtime(bundle: Path) -> None:
    import subprocess
    import sys

    bundled = {path.name for path in bundle.iterdir() if path.is_dir() and "." not in path.name}
    result = subprocess.run(
        [
            sys.executable,
            "-I",
            "-c",
            _IMPORT_AS_ON_LAMBDA,
            str(bundle),
            spec.HANDLER_ENTRY_POINT,
            ",".join((*LAMBDA_RUNTIME_MODULES, *sorted(bundled))),
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert "imported" in result.stdout
