"""MonitoringStack: the alarm topic, one ``AWS::CloudWatch::Alarm`` per alarm of the spec, and
the dashboard (``deploy.monitoring_dashboard``).

The alarms come from ``alarms.spec`` through ``alarms.cdk``, the same specification
``reconciler alarms apply`` renders, so the CLI and CloudFormation cannot disagree. The alarms
are tagged ``ManagedBy=attendee-counter-cdk``: the CLI never prunes what CloudFormation owns.
Each description links its runbook through ``runbook_url_template`` (``{name}``: the alarm key).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

from aws_cdk import CfnOutput, Stack
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from constructs import Construct

from alarms.cdk import logical_id as alarm_id
from alarms.cdk import stack_alarms
from alarms.spec import ALARM_KEYS, DEFAULT_PREFIX, Tuning
from deploy.monitoring_dashboard import add_dashboard
from reconciler.kernel import deployment_spec as deployed


class MonitoringStack(Stack):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        handler_function_name: str,
        handler_timeout_seconds: int,
        on_failure_queue_name: str | None = None,
        reconciler_namespace: str | None = None,
        prefix: str = DEFAULT_PREFIX,
        handler_namespace: str | None = None,
        tuning: Mapping[str, Tuning] | None = None,
        disabled: Sequence[str] = (),
        email_subscriptions: Sequence[str] = (),
        runbook_url_template: str = deployed.RUNBOOK_URL_TEMPLATE,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        self.topic = sns.Topic(
            self,
            "AlarmTopic",
            display_name=f"{prefix} alarms",
            enforce_ssl=True,
        )
        for email in email_subscriptions:
            self.topic.add_subscription(subscriptions.EmailSubscription(email))
        self.alarms: dict[str, cloudwatch.CfnAlarm] = {}
        for logical_id, properties in stack_alarms(
            function_name=handler_function_name,
            timeout_seconds=handler_timeout_seconds,
            topic_arn=self.topic.topic_arn,
            prefix=prefix,
            on_failure_queue_name=on_failure_queue_name,
            reconciler_namespace=reconciler_namespace,
            handler_namespace=handler_namespace,
            tuning=tuning,
            disabled=disabled,
            runbook_url_template=runbook_url_template,
        ):
            self.alarms[logical_id] = cloudwatch.CfnAlarm(self, logical_id, **properties)
        self.dashboard = add_dashboard(
            self,
            name=prefix,
            function_name=handler_function_name,
            timeout_seconds=handler_timeout_seconds,
            handler_namespace=handler_namespace or deployed.HANDLER_METRICS_NAMESPACE,
            alarm_thresholds={
                key: float(self.alarms[alarm_id(key)].threshold)
                for key in ALARM_KEYS
                if alarm_id(key) in self.alarms
            },
            on_failure_queue_name=on_failure_queue_name,
            reconciler_namespace=reconciler_namespace,
        )
        CfnOutput(
            self,
            "AlarmTopicArn",
            value=self.topic.topic_arn,
            description="SNS topic receiving ALARM and OK notifications",
        )
