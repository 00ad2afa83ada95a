"""Small readers over a synthesized CloudFormation template (plain JSON)."""

from __future__ import annotations

from typing import Any

from reconciler.kernel import deployment_spec as spec

TABLE_NAME_IMPORT = {"Fn::ImportValue": spec.TABLE_NAME_EXPORT}
STREAM_ARN_IMPORT = {"Fn::ImportValue": spec.TABLE_STREAM_ARN_EXPORT}
STATE_TABLE_NAME_IMPORT = {"Fn::ImportValue": spec.STATE_TABLE_NAME_EXPORT}


def imported_table_arn(name_import: dict[str, str]) -> dict[str, Any]:
    """A table's ARN as the stacks build it: from the exported name, never a cross-stack ARN."""
    return {
        "Fn::Join": [
            "",
            [
                "arn:",
                {"Ref": "AWS::Partition"},
                ":dynamodb:",
                {"Ref": "AWS::Region"},
                ":",
                {"Ref": "AWS::AccountId"},
                ":table/",
                name_import,
            ],
        ]
    }


IMPORTED_TABLE_ARN = imported_table_arn(TABLE_NAME_IMPORT)
IMPORTED_STATE_TABLE_ARN = imported_table_arn(STATE_TABLE_NAME_IMPORT)


def resources_of_type(template: dict[str, Any], cfn_type: str) -> dict[str, dict[str, Any]]:
    return {
        logical_id: resource
        for logical_id, resource in template["Resources"].items()
        if resource["Type"] == cfn_type
    }


def only_resource(template: dict[str, Any], cfn_type: str) -> tuple[str, dict[str, Any]]:
    found = resources_of_type(template, cfn_type)
    assert len(found) == 1, f"expected one {cfn_type}, found {sorted(found)}"
    return next(iter(found.items()))


def policy_statements(template: dict[str, Any]) -> list[dict[str, Any]]:
    """Every IAM statement granted by AWS::IAM::Policy resources and inline role policies."""
    statements: list[dict[str, Any]] = []
    for resource in resources_of_type(template, "AWS::IAM::Policy").values():
        statements.extend(resource["Properties"]["PolicyDocument"]["Statement"])
    for role in resources_of_type(template, "AWS::IAM::Role").values():
        for policy in role["Properties"].get("Policies", []):
            statements.extend(policy["PolicyDocument"]["Statement"])
    return statements


def actions_of(statement: dict[str, Any]) -> list[str]:
    action = statement["Action"]
    return [action] if isinstance(action, str) else list(action)
