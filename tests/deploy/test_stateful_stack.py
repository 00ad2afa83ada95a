"""StatefulStack: the table and its stream, and the state table that holds the counter's
ledger, as the handler and the reconciler expect them."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.ledger import LedgerModel
from reconciler.kernel.model import TableModel
from tests.deploy.conftest import CDK_GROUP, Synth
from tests.deploy.template_helpers import only_resource, resources_of_type

pytestmark = CDK_GROUP


@pytest.fixture(scope="module")
def template(synth: Synth) -> dict[str, Any]:
    return synth.raw("stateful")


@pytest.fixture(scope="module")
def table_ids(synth: Synth, template: dict[str, Any]) -> dict[str, str]:
    """Logical id of each table, by its attribute on the stack (``table``, ``state_table``)."""
    stack = synth.stacks.stateful
    ids = {
        attribute: stack.get_logical_id(getattr(stack, attribute).node.default_child)
        for attribute in ("table", "state_table")
    }
    assert set(ids.values()) == set(resources_of_type(template, "AWS::DynamoDB::Table"))
    return ids


def _table(template: dict[str, Any], table_ids: dict[str, str]) -> tuple[str, dict[str, Any]]:
    """The registrations table."""
    table_id = table_ids["table"]
    return table_id, template["Resources"][table_id]


def _state_table(template: dict[str, Any], table_ids: dict[str, str]) -> dict[str, Any]:
    table: dict[str, Any] = template["Resources"][table_ids["state_table"]]
    return table


def test_table_is_keyed_by_string_pk_and_sk(
    template: dict[str, Any], table_ids: dict[str, str]
) -> None:
    model = TableModel()
    _, table = _table(template, table_ids)
    assert table["Properties"]["KeySchema"] == [
        {"AttributeName": model.pk_attr, "KeyType": "HASH"},
        {"AttributeName": model.sk_attr, "KeyType": "RANGE"},
    ]
    assert table["Properties"]["AttributeDefinitions"] == [
        {"AttributeName": model.pk_attr, "AttributeType": "S"},
        {"AttributeName": model.sk_attr, "AttributeType": "S"},
    ]


def test_table_is_on_demand_with_point_in_time_recovery(
    template: dict[str, Any], table_ids: dict[str, str]
) -> None:
    _, table = _table(template, table_ids)
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_table_streams_new_and_old_images(
    template: dict[str, Any], table_ids: dict[str, str]
) -> None:
    _, table = _table(template, table_ids)
    assert table["Properties"]["StreamSpecification"] == {"StreamViewType": spec.STREAM_VIEW_TYPE}
    assert spec.STREAM_VIEW_TYPE == "NEW_AND_OLD_IMAGES"


def test_table_survives_stack_deletion_and_replacement(
    template: dict[str, Any], table_ids: dict[str, str]
) -> None:
    _, table = _table(template, table_ids)
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"


def test_table_name_stream_arn_and_state_table_name_are_exported_under_the_spec_names(
    template: dict[str, Any], table_ids: dict[str, str]
) -> None:
    table_id, _ = _table(template, table_ids)
    assert table_id == table_ids["table"]
    exports = {
        output["Export"]["Name"]: output["Value"]
        for output in template["Outputs"].values()
        if "Export" in output
    }
    assert exports == {
        spec.TABLE_NAME_EXPORT: {"Ref": table_id},
        spec.TABLE_STREAM_ARN_EXPORT: {"Fn::GetAtt": [table_id, "StreamArn"]},
        spec.STATE_TABLE_NAME_EXPORT: {"Ref": table_ids["state_table"]},
        spec.BUCKET_NAME_EXPORT: {"Ref": only_resource(template, "AWS::S3::Bucket")[0]},
    }
    assert spec.TABLE_STREAM_ARN_EXPORT == "TableStreamArn"
    assert spec.STATE_TABLE_NAME_EXPORT == "StateTableName"


# ---- the state table (the counter's ledger) --------------------------------------------------


def test_state_table_is_keyed_by_string_pk_and_sk_on_demand(
    template: dict[str, Any], table_ids: dict[str, str]
) -> None:
    ledger = LedgerModel()
    props = _state_table(template, table_ids)["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": ledger.pk_attr, "KeyType": "HASH"},
        {"AttributeName": ledger.sk_attr, "KeyType": "RANGE"},
    ]
    assert props["AttributeDefinitions"] == [
        {"AttributeName": "pk", "AttributeType": "S"},
        {"AttributeName": "sk", "AttributeType": "S"},
    ]
    assert props["BillingMode"] == "PAY_PER_REQUEST"


def test_state_table_has_no_stream_so_ledger_writes_never_reach_one(
    template: dict[str, Any], table_ids: dict[str, str]
) -> None:
    props = _state_table(template, table_ids)["Properties"]
    assert "StreamSpecification" not in props
    assert "KinesisStreamSpecification" not in props


def test_state_table_expires_tombstones_through_ttl_on_expires_at(
    template: dict[str, Any], table_ids: dict[str, str]
) -> None:
    assert LedgerModel().expires_attr == "expiresAt"
    props = _state_table(template, table_ids)["Properties"]
    assert props["TimeToLiveSpecification"] == {"AttributeName": "expiresAt", "Enabled": True}
    # Registrations never expire.
    _, table = _table(template, table_ids)
    assert "TimeToLiveSpecification" not in table["Properties"]


def test_state_table_is_encrypted_recoverable_and_nothing_else(
    template: dict[str, Any], table_ids: dict[str, str]
) -> None:
    props = _state_table(template, table_ids)["Properties"]
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}
    assert props["SSESpecification"] == {"SSEEnabled": True}
    assert set(props) == {
        "KeySchema",
        "AttributeDefinitions",
        "BillingMode",
        "TimeToLiveSpecification",
        "PointInTimeRecoverySpecification",
        "SSESpecification",
    }


def test_exactly_one_table_has_ttl_no_stream_and_is_retained(synth: Synth) -> None:
    from aws_cdk.assertions import Match

    template = synth.template("stateful")
    template.resource_count_is("AWS::DynamoDB::Table", 2)
    state_table = template.find_resources(
        "AWS::DynamoDB::Table",
        {
            "Properties": {
                "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
                "StreamSpecification": Match.absent(),
                "PointInTimeRecoverySpecification": {"PointInTimeRecoveryEnabled": True},
                "BillingMode": "PAY_PER_REQUEST",
            },
            "DeletionPolicy": "Retain",
            "UpdateReplacePolicy": "Retain",
        },
    )
    assert len(state_table) == 1


def test_state_table_survives_stack_deletion_and_replacement(
    template: dict[str, Any], table_ids: dict[str, str]
) -> None:
    table = _state_table(template, table_ids)
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"


def test_without_a_fixed_table_name_both_names_are_generated(
    template: dict[str, Any],
) -> None:
    tables = resources_of_type(template, "AWS::DynamoDB::Table").values()
    assert len(tables) == 2
    assert not [table for table in tables if "TableName" in table["Properties"]]


def test_bucket_is_encrypted_private_and_retained(template: dict[str, Any]) -> None:
    _, bucket = only_resource(template, "AWS::S3::Bucket")
    props = bucket["Properties"]
    assert props["BucketEncryption"] == {
        "ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "AES256"}}
        ]
    }
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert bucket["DeletionPolicy"] == "Retain"


def test_bucket_refuses_requests_without_tls(template: dict[str, Any]) -> None:
    (_, policy), *rest = resources_of_type(template, "AWS::S3::BucketPolicy").items()
    assert not rest
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    denials = [
        s
        for s in statements
        if s["Effect"] == "Deny"
        and s.get("Condition") == {"Bool": {"aws:SecureTransport": "false"}}
    ]
    assert len(denials) == 1
    assert denials[0]["Action"] == "s3:*"


def test_table_name_can_be_fixed_by_the_caller() -> None:
    from aws_cdk import App
    from aws_cdk.assertions import Template

    from deploy.stateful_stack import StatefulStack

    stack = StatefulStack(App(), "Named", table_name="registrations")
    template = Template.from_stack(stack)
    template.has_resource_properties("AWS::DynamoDB::Table", {"TableName": "registrations"})
    template.has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "TableName": "registrations-state",
            "TimeToLiveSpecification": {"AttributeName": "expiresAt", "Enabled": True},
        },
    )


def test_the_table_name_context_names_the_state_table_as_the_cli_defaults_it(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    from aws_cdk.assertions import Template

    from deploy.app import build_app
    from reconciler.kernel.settings import Source, parse_table_settings

    stacks = build_app(str(tmp_path_factory.mktemp("named")), {"tableName": "registrations"})
    cli_default = parse_table_settings(Source({"table_name": "registrations"}, {})).state_table
    assert cli_default == "registrations-state"
    Template.from_stack(stacks.stateful).has_resource_properties(
        "AWS::DynamoDB::Table", {"TableName": cli_default, "BillingMode": "PAY_PER_REQUEST"}
    )
