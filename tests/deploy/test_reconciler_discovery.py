"""Prometheus finds the reconciler's tasks: Cloud Map A records in a private DNS namespace on the
stack's VPC, and the name the shipped scrape configuration resolves (the security group that
admits the VPC alone to that port: test_reconciler_stack)."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy.conftest import CDK_GROUP, Synth
from tests.deploy.template_helpers import only_resource

pytestmark = CDK_GROUP

PROMETHEUS_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
SCRAPE_CONFIG = PROMETHEUS_DIR / "scrape-cloudmap.yml"


@pytest.fixture(scope="module", params=["synth", "adopted"])
def template(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The ReconcilerStack, with the app creating its table and adopting one."""
    app: Synth = request.getfixturevalue(request.param)
    return app.raw("reconciler")


def test_the_namespace_is_private_dns_on_the_stacks_vpc(template: dict[str, Any]) -> None:
    from deploy.reconciler_stack import DISCOVERY_NAMESPACE

    vpc_id, _ = only_resource(template, "AWS::EC2::VPC")
    _, namespace = only_resource(template, "AWS::ServiceDiscovery::PrivateDnsNamespace")
    assert namespace["Properties"]["Name"] == DISCOVERY_NAMESPACE
    assert namespace["Properties"]["Vpc"] == {"Ref": vpc_id}


def test_every_task_gets_an_a_record_with_a_short_ttl(template: dict[str, Any]) -> None:
    from deploy.reconciler_stack import DISCOVERY_SERVICE

    namespace_id, _ = only_resource(template, "AWS::ServiceDiscovery::PrivateDnsNamespace")
    _, discovery = only_resource(template, "AWS::ServiceDiscovery::Service")
    props = discovery["Properties"]
    assert props["Name"] == DISCOVERY_SERVICE
    assert props["DnsConfig"] == {
        "DnsRecords": [{"TTL": 10, "Type": "A"}],
        "NamespaceId": {"Fn::GetAtt": [namespace_id, "Id"]},
        # Every healthy task's address in one answer, so both replicas are scraped.
        "RoutingPolicy": "MULTIVALUE",
    }
    # ECS reports each task's health to Cloud Map: a stopped task leaves the answer.
    assert props["HealthCheckCustomConfig"] == {"FailureThreshold": 1}


def test_the_fargate_service_registers_its_tasks(template: dict[str, Any]) -> None:
    discovery_id, _ = only_resource(template, "AWS::ServiceDiscovery::Service")
    _, service = only_resource(template, "AWS::ECS::Service")
    assert service["Properties"]["ServiceRegistries"] == [
        {"RegistryArn": {"Fn::GetAtt": [discovery_id, "Arn"]}}
    ]


def test_the_stack_outputs_the_name_prometheus_resolves(template: dict[str, Any]) -> None:
    from deploy.reconciler_stack import METRICS_DNS_NAME

    assert template["Outputs"]["MetricsDnsName"]["Value"] == METRICS_DNS_NAME
    assert METRICS_DNS_NAME == "reconciler.attendee-counter.internal"


def test_the_shipped_scrape_config_resolves_that_name_on_the_metrics_port(synth: Synth) -> None:
    from deploy.reconciler_stack import METRICS_DNS_NAME, METRICS_PORT

    config = yaml.safe_load(SCRAPE_CONFIG.read_text())
    (job,) = config["scrape_configs"]
    (discovery,) = job["dns_sd_configs"]
    assert (job["job_name"], job["metrics_path"]) == ("reconciler", "/metrics")
    assert discovery["names"] == [METRICS_DNS_NAME]
    assert (discovery["type"], discovery["port"]) == ("A", METRICS_PORT)
