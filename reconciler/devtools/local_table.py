"""The embedded default: the table as the StatefulStack deploys it, created on any endpoint.

Used by ``reconciler demo``, the tests and ``reconciler pump --create-table`` against moto.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from reconciler.kernel.model import TableModel

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


def create_table(dynamodb: DynamoDBClient, table_name: str, model: TableModel | None = None) -> str:
    """Create the single table with its stream (NEW_AND_OLD_IMAGES); returns the stream ARN."""
    model = model or TableModel()
    response = dynamodb.create_table(
        TableName=table_name,
        AttributeDefinitions=[
            {"AttributeName": model.pk_attr, "AttributeType": "S"},
            {"AttributeName": model.sk_attr, "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": model.pk_attr, "KeyType": "HASH"},
            {"AttributeName": model.sk_attr, "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"},
    )
    dynamodb.get_waiter("table_exists").wait(
        TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )
    return response["TableDescription"].get("LatestStreamArn", "")
