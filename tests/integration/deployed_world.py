"""Builds the deployed system in moto, piece by piece, the way the two CDK stacks would.

The doctor tests build the all-green world and then break one piece per test; the alarms tests
need only the handler function (and sometimes its on-failure queue).
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import dataclass
from typing import Any

from reconciler.devtools import local_table
from reconciler.kernel import deployment_spec as deployed
from reconciler.kernel.ledger import default_state_table

ASSUME_LAMBDA = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Principal": {"Service": "lambda.amazonaws.com"},
            "Action": "sts:AssumeRole",
        }
    ],
}


def policy(actions: tuple[str, ...] | list[str], resource: str = "*") -> str:
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Action": list(actions), "Resource": resource}],
        }
    )


def stream_read_policy(stream_arn: str) -> str:
    """As StatelessStack grants it: ListStreams has no resource-level permissions, so ``*``."""
    scoped = [a for a in deployed.STREAM_READ_ACTIONS if a != "dynamodb:ListStreams"]
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [
                {"Effect": "Allow", "Action": scoped, "Resource": stream_arn},
                {"Effect": "Allow", "Action": "dynamodb:ListStreams", "Resource": "*"},
            ],
        }
    )


def create_role(clients: Any, name: str = "updateAttendeeCounter-role") -> str:
    role = clients.iam().create_role(
        RoleName=name, AssumeRolePolicyDocument=json.dumps(ASSUME_LAMBDA)
    )
    return str(role["Role"]["Arn"])


def _zip() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("handler.py", "def handler(event, context):\n    return {}\n")
    return buffer.getvalue()


def create_handler(
    clients: Any,
    role_arn: str,
    name: str = deployed.HANDLER_FUNCTION_NAME,
    timeout: int = deployed.HANDLER_TIMEOUT_SECONDS,
) -> str:
    created = clients.lambda_().create_function(
        FunctionName=name,
        Runtime="python3.12",
        Role=role_arn,
        Handler="handler.handler",
        Code={"ZipFile": _zip()},
        Timeout=timeout,
        MemorySize=deployed.HANDLER_MEMORY_MB,
    )
    return str(created["FunctionArn"])


def create_queue(clients: Any, name: str) -> str:
    """Returns the queue ARN."""
    sqs = clients.sqs()
    url = sqs.create_queue(QueueName=name)["QueueUrl"]
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return str(attributes["Attributes"]["QueueArn"])


def export_stream_arn(
    clients: Any,
    value: str,
    export_name: str = deployed.TABLE_STREAM_ARN_EXPORT,
    stack_name: str = "StatefulStack",
    **more_exports: str,
) -> None:
    """A stack exporting the stream ARN (and ``more_exports``, export name to value)."""
    exports = {export_name: value, **more_exports}
    template = {
        "Resources": {"Marker": {"Type": "AWS::SQS::Queue"}},
        "Outputs": {
            f"Output{index}": {"Value": value, "Export": {"Name": name}}
            for index, (name, value) in enumerate(exports.items())
        },
    }
    clients.cloudformation().create_stack(StackName=stack_name, TemplateBody=json.dumps(template))


def create_state_table(clients: Any, name: str, *, ttl: bool = True) -> str:
    """The state table as StatefulStack deploys it (no stream; TTL on ``expiresAt``), unless it
    exists already (the ``table_name`` fixture creates one beside every table); its ARN."""
    dynamodb = clients.dynamodb()
    existing = dynamodb.list_tables()["TableNames"]
    if name not in existing:
        local_table.create_state_table(dynamodb, name, ttl=ttl)
    return str(dynamodb.describe_table(TableName=name)["Table"]["TableArn"])


def create_mapping(
    clients: Any,
    stream_arn: str,
    on_failure_arn: str | None,
    function_name: str = deployed.HANDLER_FUNCTION_NAME,
    **overrides: Any,
) -> str:
    settings: dict[str, Any] = {
        "EventSourceArn": stream_arn,
        "FunctionName": function_name,
        "BatchSize": deployed.BATCH_SIZE,
        "MaximumBatchingWindowInSeconds": deployed.BATCHING_WINDOW_SECONDS,
        "StartingPosition": deployed.STARTING_POSITION,
        "MaximumRetryAttempts": deployed.MAX_RETRY_ATTEMPTS,
        "BisectBatchOnFunctionError": deployed.BISECT_BATCH_ON_ERROR,
        "FunctionResponseTypes": list(deployed.FUNCTION_RESPONSE_TYPES),
        "MaximumRecordAgeInSeconds": deployed.MAX_RECORD_AGE_SECONDS,
    }
    if on_failure_arn:
        settings["DestinationConfig"] = {"OnFailure": {"Destination": on_failure_arn}}
    settings.update(overrides)
    return str(clients.lambda_().create_event_source_mapping(**settings)["UUID"])


def stream_arn_of(clients: Any, table_name: str) -> str:
    table = clients.dynamodb().describe_table(TableName=table_name)["Table"]
    return str(table["LatestStreamArn"])


RECONCILER_ROLE = "reconciler-task-role"


def deploy_reconciler(
    clients: Any,
    queue_name: str,
    queue_arn: str,
    stream_arn: str,
    *,
    stack_name: str = deployed.RECONCILER_STACK_NAME,
    replays: bool = True,
) -> str:
    """What ReconcilerStack leaves for doctor: a task role with the replay grants, and the
    stack's outputs naming that role and the queue URL its container is given."""
    iam = clients.iam()
    role_arn = create_role(clients, RECONCILER_ROLE)
    iam.put_role_policy(
        RoleName=RECONCILER_ROLE,
        PolicyName="replay-queue",
        PolicyDocument=policy(deployed.REPLAY_QUEUE_ACTIONS, queue_arn),
    )
    iam.put_role_policy(
        RoleName=RECONCILER_ROLE,
        PolicyName="replay-stream",
        PolicyDocument=policy(deployed.REPLAY_STREAM_ACTIONS, stream_arn),
    )
    outputs = {deployed.RECONCILER_TASK_ROLE_OUTPUT: {"Value": role_arn}}
    if replays:
        url = clients.sqs().get_queue_url(QueueName=queue_name)["QueueUrl"]
        outputs[deployed.RECONCILER_QUEUE_URL_OUTPUT] = {"Value": url}
    template = {"Resources": {"Marker": {"Type": "AWS::SNS::Topic"}}, "Outputs": outputs}
    clients.cloudformation().create_stack(StackName=stack_name, TemplateBody=json.dumps(template))
    return role_arn


@dataclass(frozen=True)
class World:
    table_name: str
    stream_arn: str
    state_table: str
    state_table_arn: str
    function_name: str
    function_arn: str
    role_name: str
    queue_name: str
    queue_arn: str
    mapping_uuid: str


def build_green_world(clients: Any, table_name: str, queue_name: str = "stream-failures") -> World:
    """Everything the deployment guide's validation steps expect, as the stacks deploy it."""
    stream_arn = stream_arn_of(clients, table_name)
    state_table = default_state_table(table_name)
    state_table_arn = create_state_table(clients, state_table)
    export_stream_arn(
        clients,
        stream_arn,
        **{deployed.TABLE_NAME_EXPORT: table_name, deployed.STATE_TABLE_NAME_EXPORT: state_table},
    )
    role_name = "updateAttendeeCounter-role"
    role_arn = create_role(clients, role_name)
    clients.iam().put_role_policy(
        RoleName=role_name, PolicyName="stream-read", PolicyDocument=stream_read_policy(stream_arn)
    )
    clients.iam().put_role_policy(
        RoleName=role_name,
        PolicyName="ledger",
        PolicyDocument=policy(deployed.HANDLER_STATE_TABLE_ACTIONS, state_table_arn),
    )
    function_arn = create_handler(clients, role_arn)
    queue_arn = create_queue(clients, queue_name)
    clients.iam().put_role_policy(
        RoleName=role_name,
        PolicyName="report-dropped",
        PolicyDocument=policy(["sqs:SendMessage"], queue_arn),
    )
    deploy_reconciler(clients, queue_name, queue_arn, stream_arn)
    mapping = create_mapping(clients, stream_arn, queue_arn)
    clients.logs().create_log_group(logGroupName=f"/aws/lambda/{deployed.HANDLER_FUNCTION_NAME}")
    return World(
        table_name=table_name,
        stream_arn=stream_arn,
        state_table=state_table,
        state_table_arn=state_table_arn,
        function_name=deployed.HANDLER_FUNCTION_NAME,
        function_arn=function_arn,
        role_name=role_name,
        queue_name=queue_name,
        queue_arn=queue_arn,
        mapping_uuid=mapping,
    )
