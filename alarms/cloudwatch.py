"""boto3 adapters for the alarms service: CloudWatch alarms, SNS topics, Lambda, SQS.

Thin on purpose: each method is one or two API calls plus translation between boto3's shapes
and :class:`AlarmDefinition`. Clients are injected (see ``reconciler.kernel.aws.Clients``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from alarms.errors import FunctionNotFoundError, TopicNotFoundError
from alarms.plan import ExistingAlarm
from alarms.ports import FunctionInfo
from alarms.render import AlarmDefinition
from reconciler.kernel.aws import aws_call
from reconciler.kernel.errors import AwsError

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sts import STSClient

DELETE_BATCH = 100
"""``DeleteAlarms`` accepts at most 100 names per call."""


def put_metric_alarm_kwargs(definition: AlarmDefinition) -> dict[str, Any]:
    """The exact ``PutMetricAlarm`` request for a definition (also used by the parity test)."""
    kwargs: dict[str, Any] = {
        "AlarmName": definition.name,
        "AlarmDescription": definition.description,
        "ActionsEnabled": definition.actions_enabled,
        "AlarmActions": list(definition.alarm_actions),
        "OKActions": list(definition.ok_actions),
        "InsufficientDataActions": list(definition.insufficient_data_actions),
        "MetricName": definition.metric_name,
        "Namespace": definition.namespace,
        "Dimensions": [{"Name": name, "Value": value} for name, value in definition.dimensions],
        "Period": definition.period,
        "EvaluationPeriods": definition.evaluation_periods,
        "DatapointsToAlarm": definition.datapoints_to_alarm,
        "Threshold": definition.threshold,
        "ComparisonOperator": definition.comparison_operator,
        "TreatMissingData": definition.treat_missing_data,
        "Tags": [{"Key": key, "Value": value} for key, value in definition.tags],
    }
    if definition.extended_statistic is not None:
        kwargs["ExtendedStatistic"] = definition.extended_statistic
    else:
        kwargs["Statistic"] = definition.statistic
    return kwargs


def definition_from_alarm(alarm: Mapping[str, Any], tags: Mapping[str, str]) -> AlarmDefinition:
    """Read ``DescribeAlarms`` output back into the shape the plan compares."""
    evaluation_periods = int(alarm.get("EvaluationPeriods", 0))
    return AlarmDefinition(
        name=str(alarm["AlarmName"]),
        description=str(alarm.get("AlarmDescription", "")),
        namespace=str(alarm.get("Namespace", "")),
        metric_name=str(alarm.get("MetricName", "")),
        dimensions=tuple(
            sorted((str(d["Name"]), str(d["Value"])) for d in alarm.get("Dimensions", []))
        ),
        statistic=alarm.get("Statistic"),
        extended_statistic=alarm.get("ExtendedStatistic"),
        period=int(alarm.get("Period", 0)),
        evaluation_periods=evaluation_periods,
        # CloudWatch omits DatapointsToAlarm when it equals EvaluationPeriods.
        datapoints_to_alarm=int(alarm.get("DatapointsToAlarm", evaluation_periods)),
        comparison_operator=str(alarm.get("ComparisonOperator", "")),
        threshold=float(alarm.get("Threshold", 0.0)),
        treat_missing_data=str(alarm.get("TreatMissingData", "missing")),
        actions_enabled=bool(alarm.get("ActionsEnabled", True)),
        alarm_actions=tuple(alarm.get("AlarmActions", [])),
        ok_actions=tuple(alarm.get("OKActions", [])),
        insufficient_data_actions=tuple(alarm.get("InsufficientDataActions", [])),
        tags=tuple(sorted(tags.items())),
    )


class CloudWatchAlarms:
    """Lists, writes and deletes metric alarms under a name prefix."""

    def __init__(self, cloudwatch: CloudWatchClient) -> None:
        self._cloudwatch = cloudwatch

    def list_alarms(self, prefix: str) -> list[ExistingAlarm]:
        found: list[ExistingAlarm] = []
        with aws_call("DescribeAlarms"):
            pages = self._cloudwatch.get_paginator("describe_alarms").paginate(
                AlarmNamePrefix=f"{prefix}-", AlarmTypes=["MetricAlarm"]
            )
            for page in pages:
                for alarm in page.get("MetricAlarms", []):
                    arn = alarm["AlarmArn"]
                    tags = self._tags(arn)
                    found.append(
                        ExistingAlarm(
                            definition=definition_from_alarm(alarm, tags),
                            arn=arn,
                        )
                    )
        return found

    def put(self, definition: AlarmDefinition, *, replace_tags_of: str | None = None) -> None:
        with aws_call("PutMetricAlarm"):
            self._cloudwatch.put_metric_alarm(**put_metric_alarm_kwargs(definition))
            if replace_tags_of:
                # PutMetricAlarm ignores Tags when it updates an existing alarm.
                self._cloudwatch.tag_resource(
                    ResourceARN=replace_tags_of,
                    Tags=[{"Key": k, "Value": v} for k, v in definition.tags],
                )

    def delete(self, names: Sequence[str]) -> None:
        with aws_call("DeleteAlarms"):
            for start in range(0, len(names), DELETE_BATCH):
                self._cloudwatch.delete_alarms(AlarmNames=list(names[start : start + DELETE_BATCH]))

    def _tags(self, arn: str) -> dict[str, str]:
        response = self._cloudwatch.list_tags_for_resource(ResourceARN=arn)
        return {t["Key"]: t["Value"] for t in response.get("Tags", [])}


class SnsTopics:
    """Finds, creates and verifies the notification topic and its subscriptions."""

    def __init__(self, sns: SNSClient, sts: STSClient) -> None:
        self._sns = sns
        self._sts = sts

    def find(self, name: str) -> str | None:
        with aws_call("ListTopics"):
            for page in self._sns.get_paginator("list_topics").paginate():
                for topic in page.get("Topics", []):
                    arn = topic.get("TopicArn", "")
                    if arn.rsplit(":", 1)[-1] == name:
                        return arn
        return None

    def ensure(self, name: str) -> str:
        """``CreateTopic`` is idempotent: it returns the existing topic's ARN."""
        with aws_call("CreateTopic"):
            return self._sns.create_topic(Name=name)["TopicArn"]

    def verify(self, arn: str) -> str:
        try:
            with aws_call("GetTopicAttributes"):
                self._sns.get_topic_attributes(TopicArn=arn)
        except AwsError as exc:
            if exc.code in {"NotFound", "NotFoundException"}:
                raise TopicNotFoundError(arn) from None
            raise
        return arn

    def arn_for(self, name: str) -> str:
        """Topics live in the caller's account and the client's region."""
        with aws_call("GetCallerIdentity"):
            caller = self._sts.get_caller_identity()["Arn"]
        partition = caller.split(":")[1]
        return f"arn:{partition}:sns:{self._sns.meta.region_name}:{caller.split(':')[4]}:{name}"

    def subscribe(self, arn: str, protocol: str, endpoints: Sequence[str]) -> int:
        """Subscribe endpoints not yet subscribed; returns how many were added."""
        with aws_call("Subscribe"):
            existing = {
                (s.get("Protocol"), s.get("Endpoint"))
                for page in self._sns.get_paginator("list_subscriptions_by_topic").paginate(
                    TopicArn=arn
                )
                for s in page.get("Subscriptions", [])
            }
            added = 0
            for endpoint in endpoints:
                if (protocol, endpoint) not in existing:
                    self._sns.subscribe(TopicArn=arn, Protocol=protocol, Endpoint=endpoint)
                    added += 1
        return added


class LambdaFunctions:
    def __init__(self, lambda_client: LambdaClient) -> None:
        self._lambda = lambda_client

    def describe(self, function_name: str) -> FunctionInfo:
        try:
            with aws_call("GetFunctionConfiguration"):
                config = self._lambda.get_function_configuration(FunctionName=function_name)
        except AwsError as exc:
            if exc.code == "ResourceNotFoundException":
                raise FunctionNotFoundError(function_name) from None
            raise
        return FunctionInfo(
            name=config.get("FunctionName", function_name),
            arn=config.get("FunctionArn", ""),
            timeout_seconds=int(config.get("Timeout", 3)),
        )


_MISSING_QUEUE = {"AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist"}


class SqsQueues:
    def __init__(self, sqs: SQSClient) -> None:
        self._sqs = sqs

    def exists(self, queue_name: str) -> bool:
        try:
            with aws_call("GetQueueUrl"):
                self._sqs.get_queue_url(QueueName=queue_name)
        except AwsError as exc:
            if exc.code in _MISSING_QUEUE:
                return False
            raise
        return True
