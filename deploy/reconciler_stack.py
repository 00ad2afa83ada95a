"""The reconciler as a Fargate service: ``reconciler serve`` beside the live stream handler.

Replicas elect a leader through a lease item in the table itself, so the service can run one
task or two for availability; only the leader writes corrections. Before each pass the leader
replays the batches the stream mapping dropped to its on-failure queue (``serve
--on-failure-queue-url``), so the task may read that queue and the table's stream.

Each task registers in AWS Cloud Map (a private DNS namespace, one A record per task), so a
Prometheus inside the VPC finds every replica with ``dns_sd_configs`` on one name
(``deploy/prometheus/scrape-cloudmap.yml``), without knowing the tasks' addresses.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from aws_cdk import Aws, CfnOutput, Duration, Fn, RemovalPolicy, Size, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_servicediscovery as servicediscovery
from constructs import Construct

from deploy.export_mode import EXPORT_WORKING_DIRECTORY, ExportMode
from deploy.tables import ExistingTable, TableRefs, table_refs
from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.model import TableModel

REPO_ROOT = Path(__file__).resolve().parent.parent
METRICS_PORT = 9464
RECONCILER_CLOUDWATCH_NAMESPACE = spec.RECONCILER_METRICS_NAMESPACE
"""Where ``serve --cloudwatch-namespace`` publishes each pass's summary for the alarms."""

IMAGE_EXCLUDES: tuple[str, ...] = (
    ".venv",
    ".git",
    "cdk.out",
    "node_modules",
    ".tools",
    ".mypy_cache",
    ".ruff_cache",
    ".pytest_cache",
    ".hypothesis",
    "**/__pycache__",
)
"""Never staged into the image asset, even if .dockerignore is edited: cdk.out may live inside
the directory being staged, and the virtualenv alone is hundreds of megabytes."""

HEALTHCHECK_COMMAND = (
    "import urllib.request; "
    f"urllib.request.urlopen('http://127.0.0.1:{METRICS_PORT}/healthz', timeout=4)"
)
LOG_RETENTION = logs.RetentionDays.ONE_MONTH
DISCOVERY_NAMESPACE = "attendee-counter.internal"
"""The private DNS namespace (a Route 53 private hosted zone on the VPC); ``.internal`` is
reserved for private use, so the name can never collide with a public one."""
DISCOVERY_SERVICE = "reconciler"
METRICS_DNS_NAME = f"{DISCOVERY_SERVICE}.{DISCOVERY_NAMESPACE}"
"""What Prometheus resolves (``dns_sd_configs``, type A): one address per running task."""
DISCOVERY_DNS_TTL_SECONDS = 10
"""Short: a replaced task's address leaves Prometheus's targets within one refresh."""
SHUTDOWN_TIMEOUT_SECONDS = 45
STOP_TIMEOUT_SECONDS = 60


class ReconcilerStack(Stack):
    """VPC (or the caller's), cluster, task definition with a least-privilege role, service.

    Table access is exactly what a pass does: count attendees (``Query``), read an event
    (``GetItem``), correct it conditionally (``UpdateItem``); the lease item's writes are
    confined to the lock partition with ``dynamodb:LeadingKeys``. The state table holds only
    the ledger, which per-key repair and backfill read and rewrite. With an on-failure queue
    (the StatelessStack's, by its fixed name) the task replays it: receive and delete on that
    queue only, read the imported stream, and the handler's one extra table read
    (``BatchGetItem`` on event items). With ``from_export`` each pass recounts from a fresh
    export in the StatefulStack's bucket (``deploy.export_mode``).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        vpc: ec2.IVpc | None = None,
        desired_count: int = 1,
        cloudwatch_namespace: str = RECONCILER_CLOUDWATCH_NAMESPACE,
        handler_function_name: str = spec.HANDLER_FUNCTION_NAME,
        on_failure_queue_name: str | None = spec.ON_FAILURE_QUEUE_NAME,
        image_directory: Path = REPO_ROOT,
        cpu: int = 256,
        memory_mib: int = 512,
        model: TableModel | None = None,
        existing: ExistingTable | None = None,
        from_export: ExportMode | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)
        if desired_count not in (1, 2):
            raise ValueError("desired_count must be 1 or 2: one leader, at most one standby")
        model = model or TableModel()
        self.cloudwatch_namespace = cloudwatch_namespace
        tables = table_refs(self, existing)
        export_statements: list[iam.PolicyStatement] = []
        export_environment: dict[str, str] = {}
        if from_export is not None:
            cpu, memory_mib = from_export.task_size(cpu, memory_mib)
            bucket = s3.Bucket.from_bucket_name(
                self, "ExportBucket", Fn.import_value(spec.BUCKET_NAME_EXPORT)
            )
            export_statements = from_export.statements(bucket, tables.table_arn)
            export_environment = from_export.environment(bucket)
        # Built from the fixed name, as the MonitoringStack names it: an export would pin the
        # StatelessStack, which must stay free to be destroyed and redeployed.
        self.on_failure_queue_arn: str | None = None
        self.on_failure_queue_url: str | None = None
        if on_failure_queue_name:
            self.on_failure_queue_arn = self.format_arn(
                service="sqs", resource=on_failure_queue_name
            )
            self.on_failure_queue_url = f"https://sqs.{Aws.REGION}.{Aws.URL_SUFFIX}/{Aws.ACCOUNT_ID}/{on_failure_queue_name}"

        self.vpc = vpc or self._new_vpc()
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=self.vpc,
            container_insights_v2=ecs.ContainerInsights.ENABLED,
        )

        self.task_role = iam.Role(
            self,
            "TaskRole",
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="reconciler serve: count, correct, ledger, lease, pass metrics, replay",
        )
        self.task_policy = iam.Policy(
            self,
            "TaskPolicy",
            roles=[self.task_role],
            statements=self._statements(tables, model)
            + self._replay_statements(tables, model)
            + export_statements,
        )

        self.log_group = logs.LogGroup(
            self,
            "LogGroup",
            retention=LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )

        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            cpu=cpu,
            memory_limit_mib=memory_mib,
            task_role=self.task_role,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=ecs.CpuArchitecture.X86_64,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        self.task_definition.add_volume(name="tmp")
        self.container = self.task_definition.add_container(
            "reconciler",
            container_name="reconciler",
            image=ecs.ContainerImage.from_asset(
                str(image_directory),
                file="Dockerfile",
                exclude=list(IMAGE_EXCLUDES),
            ),
            command=["serve"],
            working_directory=EXPORT_WORKING_DIRECTORY if from_export else None,
            environment={
                "TABLE_NAME": tables.table_name,
                "RECONCILER_STATE_TABLE": tables.state_table_name,
                "RECONCILER_PORT": str(METRICS_PORT),
                "RECONCILER_BIND": "0.0.0.0",  # noqa: S104 - reachable only through the SG
                "RECONCILER_CLOUDWATCH_NAMESPACE": cloudwatch_namespace,
                "RECONCILER_HANDLER_FUNCTION_NAME": handler_function_name,
                "RECONCILER_SHUTDOWN_TIMEOUT": f"{SHUTDOWN_TIMEOUT_SECONDS}s",
                "RECONCILER_LOG_FORMAT": "json",
                **(
                    {"RECONCILER_ON_FAILURE_QUEUE_URL": self.on_failure_queue_url}
                    if self.on_failure_queue_url
                    else {}
                ),
                **export_environment,
            },
            port_mappings=[
                ecs.PortMapping(
                    container_port=METRICS_PORT, protocol=ecs.Protocol.TCP, name="metrics"
                )
            ],
            health_check=ecs.HealthCheck(
                command=["CMD", "python", "-c", HEALTHCHECK_COMMAND],
                interval=Duration.seconds(30),
                timeout=Duration.seconds(5),
                retries=3,
                start_period=Duration.seconds(30),
            ),
            logging=ecs.LogDrivers.aws_logs(
                stream_prefix="reconciler",
                log_group=self.log_group,
                mode=ecs.AwsLogDriverMode.NON_BLOCKING,
                max_buffer_size=Size.mebibytes(25),
            ),
            readonly_root_filesystem=True,
            # SIGTERM lets the pass in progress finish its current event; ECS waits longer than
            # serve does before it sends SIGKILL.
            stop_timeout=Duration.seconds(STOP_TIMEOUT_SECONDS),
        )
        self.container.add_mount_points(
            ecs.MountPoint(container_path="/tmp", source_volume="tmp", read_only=False)  # noqa: S108
        )

        self.security_group = ec2.SecurityGroup(
            self,
            "ServiceSecurityGroup",
            vpc=self.vpc,
            description="reconciler: metrics from inside the VPC, HTTPS out to AWS APIs",
            allow_all_outbound=False,
        )
        self.security_group.add_ingress_rule(
            ec2.Peer.ipv4(self.vpc.vpc_cidr_block),
            ec2.Port.tcp(METRICS_PORT),
            "Prometheus scrapes /metrics from inside the VPC",
        )
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(),
            ec2.Port.tcp(443),
            "AWS APIs (DynamoDB and its stream, SQS, CloudWatch, ECR, Logs)",
        )

        # Resolvable only from inside the VPC: the same audience the security group admits.
        self.discovery_namespace = servicediscovery.PrivateDnsNamespace(
            self,
            "DiscoveryNamespace",
            name=DISCOVERY_NAMESPACE,
            vpc=self.vpc,
            description="reconciler tasks for Prometheus dns_sd_configs (A records)",
        )
        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            desired_count=desired_count,
            security_groups=[self.security_group],
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS),
            assign_public_ip=False,
            min_healthy_percent=100,
            max_healthy_percent=200,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            enable_execute_command=False,
            cloud_map_options=ecs.CloudMapOptions(
                cloud_map_namespace=self.discovery_namespace,
                name=DISCOVERY_SERVICE,
                dns_record_type=servicediscovery.DnsRecordType.A,
                dns_ttl=Duration.seconds(DISCOVERY_DNS_TTL_SECONDS),
            ),
        )

        CfnOutput(self, "ClusterName", value=self.cluster.cluster_name)
        CfnOutput(self, "ServiceName", value=self.service.service_name)
        CfnOutput(self, "LogGroupName", value=self.log_group.log_group_name)
        CfnOutput(
            self,
            "MetricsDnsName",
            value=METRICS_DNS_NAME,
            description=f"Prometheus dns_sd_configs name (type A, port {METRICS_PORT}), "
            "resolvable inside the VPC",
        )
        # What `reconciler doctor` reads to check the replay chain against the live mapping.
        CfnOutput(self, spec.RECONCILER_TASK_ROLE_OUTPUT, value=self.task_role.role_arn)
        if self.on_failure_queue_url:
            CfnOutput(self, spec.RECONCILER_QUEUE_URL_OUTPUT, value=self.on_failure_queue_url)

    def _new_vpc(self) -> ec2.Vpc:
        """Two AZs, private subnets behind one NAT gateway, and a free DynamoDB endpoint so
        the counting traffic never crosses the NAT."""
        return ec2.Vpc(
            self,
            "Vpc",
            max_azs=2,
            nat_gateways=1,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name="public", subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=24
                ),
                ec2.SubnetConfiguration(
                    name="private", subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=22
                ),
            ],
            gateway_endpoints={
                "DynamoDb": ec2.GatewayVpcEndpointOptions(
                    service=ec2.GatewayVpcEndpointAwsService.DYNAMODB
                )
            },
        )

    def _statements(self, tables: TableRefs, model: TableModel) -> list[iam.PolicyStatement]:
        table = tables.table_arn
        return [
            iam.PolicyStatement(
                sid="CountAttendees",
                # Scan and DescribeTable: the scan sweep (--sweep scan|auto) and auto's choice.
                actions=[
                    "dynamodb:Query",
                    "dynamodb:GetItem",
                    "dynamodb:Scan",
                    "dynamodb:DescribeTable",
                ],
                resources=[table],
            ),
            # Corrections only ever rewrite event items: the task may not modify attendee
            # items (personal data) even if a bug or a bad --event-partitions aimed it there.
            iam.PolicyStatement(
                sid="CorrectCounters",
                actions=["dynamodb:UpdateItem"],
                resources=[table],
                conditions={
                    "ForAllValues:StringEquals": {
                        "dynamodb:LeadingKeys": list(model.event_partitions)
                    }
                },
            ),
            iam.PolicyStatement(
                sid="LeaderLease",
                actions=[
                    "dynamodb:GetItem",
                    "dynamodb:PutItem",
                    "dynamodb:UpdateItem",
                    "dynamodb:DeleteItem",
                ],
                resources=[table],
                conditions={
                    "ForAllValues:StringEquals": {"dynamodb:LeadingKeys": [model.lock_partition]}
                },
            ),
            # The ledger only: per-key repair rewrites entries and the counter (CorrectCounters)
            # in one transaction, which IAM authorises item by item; backfill writes entries.
            iam.PolicyStatement(
                sid="KeepLedger",
                actions=list(spec.RECONCILER_STATE_TABLE_ACTIONS),
                resources=[tables.state_table_arn],
            ),
            iam.PolicyStatement(
                sid="PublishPassMetrics",
                actions=["cloudwatch:PutMetricData"],
                resources=["*"],
                conditions={"StringEquals": {"cloudwatch:namespace": self.cloudwatch_namespace}},
            ),
            # GetMetricStatistics has no resource-level permissions: it reads the handler's
            # IteratorAge for the lag gate.
            iam.PolicyStatement(
                sid="ReadHandlerIteratorAge",
                actions=["cloudwatch:GetMetricStatistics"],
                resources=["*"],
            ),
        ]

    def _replay_statements(self, tables: TableRefs, model: TableModel) -> list[iam.PolicyStatement]:
        """The replay of dropped batches: this queue, this stream, the handler's reads."""
        if self.on_failure_queue_arn is None:
            return []
        return [
            # The queue is SQS-managed (SSE-SQS): no KMS key to be granted. A customer managed
            # key would need kms:Decrypt on it here.
            iam.PolicyStatement(
                sid="ReplayOnFailureQueue",
                actions=list(spec.REPLAY_QUEUE_ACTIONS),
                resources=[self.on_failure_queue_arn],
            ),
            iam.PolicyStatement(
                sid="ReplayStreamRange",
                actions=list(spec.REPLAY_STREAM_ACTIONS),
                resources=[tables.stream_arn],
            ),
            # The handler reads an event with its ledger entries in one BatchGetItem; IAM
            # authorises the registration table's part on its own, event items only.
            iam.PolicyStatement(
                sid="ReplayReadEvents",
                actions=["dynamodb:BatchGetItem"],
                resources=[tables.table_arn],
                conditions={
                    "ForAllValues:StringEquals": {
                        "dynamodb:LeadingKeys": list(model.event_partitions)
                    }
                },
            ),
        ]
