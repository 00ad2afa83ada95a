"""The app adopts a table it did not create: no stack defines a table, and every grant and the
event source mapping name the given table, its state table and its stream."""

from __future__ import annotations

import json
from typing import Any

import pytest

from reconciler.kernel import deployment_spec as spec
from tests.deploy.conftest import (
    ADOPTED_CONTEXT,
    ADOPTED_STREAM_ARN,
    ADOPTED_TABLE,
    CDK_GROUP,
    Synth,
    synthesize,
)
from tests.deploy.template_helpers import actions_of, only_resource, policy_statements

pytestmark = CDK_GROUP

STACKS = ("stateful", "stateless", "monitoring", "reconciler")
TABLE_ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/registrations"
STATE_TABLE_ARN = "arn:aws:dynamodb:eu-west-1:123456789012:table/registrations-state"


def _dynamodb_grants(template: dict[str, Any]) -> dict[str, set[str]]:
    """Resource -> the dynamodb actions granted on it."""
    grants: dict[str, set[str]] = {}
    for statement in policy_statements(template):
        actions = {a for a in actions_of(statement) if a.startswith("dynamodb:")}
        if actions:
            grants.setdefault(json.dumps(statement["Resource"]), set()).update(actions)
    return grants


@pytest.mark.parametrize("stack", STACKS)
def test_no_stack_defines_a_table_when_one_is_adopted(adopted: Synth, stack: str) -> None:
    adopted.template(stack).resource_count_is("AWS::DynamoDB::Table", 0)


@pytest.mark.parametrize("stack", STACKS)
def test_without_the_context_the_stateful_stack_alone_defines_both_tables(
    synth: Synth, stack: str
) -> None:
    synth.template(stack).resource_count_is("AWS::DynamoDB::Table", 2 if stack == "stateful" else 0)


@pytest.mark.parametrize("stack", ["stateless", "reconciler"])
def test_no_stack_imports_an_export_when_a_table_is_adopted(adopted: Synth, stack: str) -> None:
    assert "Fn::ImportValue" not in json.dumps(adopted.raw(stack))


def test_the_event_source_mapping_reads_the_given_stream(adopted: Synth) -> None:
    adopted.template("stateless").has_resource_properties(
        "AWS::Lambda::EventSourceMapping", {"EventSourceArn": ADOPTED_STREAM_ARN}
    )


def test_the_handler_is_granted_on_the_given_table_its_state_table_and_stream(
    adopted: Synth,
) -> None:
    grants = _dynamodb_grants(adopted.raw("stateless"))
    scoped_stream = set(spec.STREAM_READ_ACTIONS) - {"dynamodb:ListStreams"}
    assert grants == {
        json.dumps(ADOPTED_STREAM_ARN): scoped_stream,
        json.dumps("*"): {"dynamodb:ListStreams"},
        json.dumps(TABLE_ARN): set(spec.HANDLER_TABLE_ACTIONS),
        json.dumps(STATE_TABLE_ARN): set(spec.HANDLER_STATE_TABLE_ACTIONS),
    }


def test_the_reconciler_is_granted_on_the_given_table_its_state_table_and_stream(
    adopted: Synth,
) -> None:
    grants = _dynamodb_grants(adopted.raw("reconciler"))
    assert set(grants) == {
        json.dumps(TABLE_ARN),
        json.dumps(STATE_TABLE_ARN),
        json.dumps(ADOPTED_STREAM_ARN),
    }
    assert grants[json.dumps(STATE_TABLE_ARN)] == set(spec.RECONCILER_STATE_TABLE_ACTIONS)
    assert grants[json.dumps(ADOPTED_STREAM_ARN)] == set(spec.REPLAY_STREAM_ACTIONS)
    assert {"dynamodb:Query", "dynamodb:UpdateItem"} <= grants[json.dumps(TABLE_ARN)]


def test_the_handler_and_the_reconciler_are_told_the_given_names(adopted: Synth) -> None:
    names = {"TABLE_NAME": ADOPTED_TABLE, "RECONCILER_STATE_TABLE": f"{ADOPTED_TABLE}-state"}
    _, function = only_resource(adopted.raw("stateless"), "AWS::Lambda::Function")
    assert names.items() <= function["Properties"]["Environment"]["Variables"].items()
    _, task = only_resource(adopted.raw("reconciler"), "AWS::ECS::TaskDefinition")
    (container,) = task["Properties"]["ContainerDefinitions"]
    environment = {e["Name"]: e["Value"] for e in container["Environment"]}
    assert names.items() <= environment.items()


def test_the_stateful_stack_keeps_the_bucket_and_exports_the_adopted_names(
    adopted: Synth,
) -> None:
    template = adopted.raw("stateful")
    adopted.template("stateful").resource_count_is("AWS::S3::Bucket", 1)
    exports = {
        o["Export"]["Name"]: o["Value"] for o in template["Outputs"].values() if "Export" in o
    }
    assert exports == {
        spec.TABLE_NAME_EXPORT: ADOPTED_TABLE,
        spec.TABLE_STREAM_ARN_EXPORT: ADOPTED_STREAM_ARN,
        spec.STATE_TABLE_NAME_EXPORT: f"{ADOPTED_TABLE}-state",
        spec.BUCKET_NAME_EXPORT: {"Ref": only_resource(template, "AWS::S3::Bucket")[0]},
    }


@pytest.mark.parametrize("stack", ["stateless", "reconciler"])
def test_stacks_on_the_adopted_table_refuse_another_account_or_region(
    adopted: Synth, stack: str
) -> None:
    rule = adopted.raw(stack)["Rules"]["AdoptedTableEnvironment"]
    (assertion,) = rule["Assertions"]
    assert assertion["Assert"] == {
        "Fn::And": [
            {"Fn::Equals": [{"Ref": "AWS::AccountId"}, "123456789012"]},
            {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-1"]},
        ]
    }
    assert "registrations" in assertion["AssertDescription"]


def test_the_state_table_name_can_be_given(tmp_path_factory: pytest.TempPathFactory) -> None:
    context = {**ADOPTED_CONTEXT, "existingStateTableName": "registrations-ledger"}
    app = synthesize(tmp_path_factory.mktemp("state-name"), context)
    grants = _dynamodb_grants(app.raw("stateless"))
    assert json.dumps(STATE_TABLE_ARN.replace("-state", "-ledger")) in grants
    assert json.dumps(STATE_TABLE_ARN) not in grants


BAD_CONTEXTS = {
    "name only": (
        {"existingTableName": ADOPTED_TABLE},
        "context existingTableName: needs existingTableStreamArn too",
    ),
    "stream only": (
        {"existingTableStreamArn": ADOPTED_STREAM_ARN},
        "context existingTableStreamArn: needs existingTableName too",
    ),
    "a table ARN, not a stream's": (
        {**ADOPTED_CONTEXT, "existingTableStreamArn": TABLE_ARN},
        f"context existingTableStreamArn: '{TABLE_ARN}' is not a DynamoDB stream ARN",
    ),
    "a short account id": (
        {**ADOPTED_CONTEXT, "existingTableStreamArn": ADOPTED_STREAM_ARN.replace("1234", "")},
        "is not a DynamoDB stream ARN (arn:aws:dynamodb:<region>:<account>:table/<name>/stream/",
    ),
    "another table's stream": (
        {**ADOPTED_CONTEXT, "existingTableName": "orders"},
        "the stream belongs to table registrations, not existingTableName orders",
    ),
    "with tableName": (
        {**ADOPTED_CONTEXT, "tableName": "registrations"},
        "context tableName: names a table the app creates",
    ),
    "a state table alone": (
        {"existingStateTableName": "registrations-state"},
        "context existingStateTableName: needs existingTableName and existingTableStreamArn",
    ),
}


@pytest.mark.parametrize("case", sorted(BAD_CONTEXTS))
def test_a_bad_adoption_context_exits_2_with_one_line_and_writes_nothing(
    case: str, tmp_path_factory: pytest.TempPathFactory, capsys: pytest.CaptureFixture[str]
) -> None:
    from deploy.app import main

    context, message = BAD_CONTEXTS[case]
    out = tmp_path_factory.mktemp("bad-adoption")
    code = main(["--out", str(out), *(f"-c{k}={v}" for k, v in context.items())])

    assert code == 2
    err = capsys.readouterr().err
    assert message in err
    assert err.count("\n") == 1
    assert list(out.glob("*.template.json")) == []
