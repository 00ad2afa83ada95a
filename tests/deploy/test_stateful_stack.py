"""StatefulStack: the table and its stream as the handler and the reconciler expect them."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.model import TableModel
from tests.deploy.conftest import CDK_GROUP, Synth
from tests.deploy.template_helpers import only_resource, resources_of_type

pytestmark = CDK_GROUP


@pytest.fixture(scope="module")
def template(synth: Synth) -> dict[str, Any]:
    return synth.raw("stateful")


def _table(template: dict[str, Any]) -> tuple[str, dict[str, Any]]:
    return only_resource(template, "AWS::DynamoDB::Table")


def test_table_is_keyed_by_string_pk_and_sk(synth: Synth) -> None:
    model = TableModel()
    synth.template("stateful").has_resource_properties(
        "AWS::DynamoDB::Table",
        {
            "KeySchema": [
                {"AttributeName": model.pk_attr, "KeyType": "HASH"},
                {"AttributeName": model.sk_attr, "KeyType": "RANGE"},
            ],
            "AttributeDefinitions": [
                {"AttributeName": model.pk_attr, "AttributeType": "S"},
                {"AttributeName": model.sk_attr, "AttributeType": "S"},
            ],
        },
    )


def test_table_is_on_demand_with_point_in_time_recovery(template: dict[str, Any]) -> None:
    _, table = _table(template)
    props = table["Properties"]
    assert props["BillingMode"] == "PAY_PER_REQUEST"
    assert props["PointInTimeRecoverySpecification"] == {"PointInTimeRecoveryEnabled": True}


def test_table_streams_new_and_old_images(template: dict[str, Any]) -> None:
    _, table = _table(template)
    assert table["Properties"]["StreamSpecification"] == {"StreamViewType": spec.STREAM_VIEW_TYPE}
    assert spec.STREAM_VIEW_TYPE == "NEW_AND_OLD_IMAGES"


def test_table_survives_stack_deletion_and_replacement(template: dict[str, Any]) -> None:
    _, table = _table(template)
    assert table["DeletionPolicy"] == "Retain"
    assert table["UpdateReplacePolicy"] == "Retain"


def test_table_name_and_stream_arn_are_exported_under_the_spec_names(
    template: dict[str, Any],
) -> None:
    table_id, _ = _table(template)
    exports = {
        output["Export"]["Name"]: output["Value"]
        for output in template["Outputs"].values()
        if "Export" in output
    }
    assert exports == {
        spec.TABLE_NAME_EXPORT: {"Ref": table_id},
        spec.TABLE_STREAM_ARN_EXPORT: {"Fn::GetAtt": [table_id, "StreamArn"]},
    }
    assert spec.TABLE_STREAM_ARN_EXPORT == "TableStreamArn"


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
    Template.from_stack(stack).has_resource_properties(
        "AWS::DynamoDB::Table", {"TableName": "registrations"}
    )
