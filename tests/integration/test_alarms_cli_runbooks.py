"""Every alarm ``reconciler alarms apply`` creates links its runbook: by default the page in
the docs, or wherever an absolute URL template (flag or environment) points, and a changed
template updates every description; a relative template is refused."""

from __future__ import annotations

from typing import Any

import pytest

from alarms.spec import ALARM_KEYS
from tests.integration.alarms_cli_support import (
    DOCS,
    HANDLER_ALARMS,
    HANDLER_KEYS,
    PREFIX,
    alarms_cli,
    apply_with_every_source,
    deploy_handler,
    described,
    plan_json,
)

handler = pytest.fixture(deploy_handler)


def runbook_links(clients: Any) -> dict[str, str]:
    """Alarm key -> the runbook URL its description ends with."""
    cloudwatch = clients.cloudwatch()
    links = {}
    for alarm in described(clients).values():
        tags = cloudwatch.list_tags_for_resource(ResourceARN=alarm["AlarmArn"])["Tags"]
        key = next(t["Value"] for t in tags if t["Key"] == "AlarmKey")
        description, _, links[key] = alarm["AlarmDescription"].rpartition(" Runbook: ")
        assert description.endswith("."), alarm["AlarmName"]
    return links


def test_every_alarm_description_links_its_runbook_page_in_the_docs(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = apply_with_every_source(clients, capsys)

    assert code == 0, err
    assert runbook_links(clients) == {key: f"{DOCS}/{key}.md" for key in ALARM_KEYS}


def test_a_runbook_url_template_from_the_environment_links_every_alarm_there(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    env = {"RECONCILER_RUNBOOK_URL_TEMPLATE": "https://wiki.example.com/oncall/{name}"}

    code, _, err = alarms_cli(capsys, "apply", env=env)

    assert code == 0, err
    links = runbook_links(clients)
    assert links == {key: f"https://wiki.example.com/oncall/{key}" for key in HANDLER_KEYS}


def test_a_changed_runbook_url_template_updates_every_description(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    alarms_cli(capsys, "apply")
    template = ("--runbook-url-template", "https://wiki.example.com/oncall/{name}")

    plan = plan_json(capsys, *template)
    code, out, _ = alarms_cli(capsys, "apply", *template)

    assert set(plan["update"]) == HANDLER_ALARMS
    assert code == 0
    assert f"update     {PREFIX}-handler-errors-sum-critical (description)" in out
    links = runbook_links(clients)
    assert links == {key: f"https://wiki.example.com/oncall/{key}" for key in HANDLER_KEYS}


def test_a_relative_runbook_url_template_exits_2_naming_the_flag(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = alarms_cli(capsys, "plan", "--runbook-url-template", "README.md#{name}")

    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "--runbook-url-template: must be an absolute http(s) URL" in err
    assert described(clients) == {}
