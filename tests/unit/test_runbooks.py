"""Every alarm and every alert that can page someone has a runbook page, and links to it.

Alarm descriptions and alert annotations point at
``https://github.com/attendee-counter/reconciler/blob/main/docs/runbooks/<name>.md``; a missing
page would be a dead link in the middle of an incident.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from alarms.spec import ALARM_KEYS, DEFAULT_PREFIX, SpecParameters, build_specs

REPO_ROOT = Path(__file__).resolve().parents[2]
RUNBOOKS = REPO_ROOT / "docs" / "runbooks"
RULES = REPO_ROOT / "deploy" / "prometheus" / "alerts.yml"
RUNBOOK_BASE = "https://github.com/attendee-counter/reconciler/blob/main/docs/runbooks/"


def runbook_url(name: str) -> str:
    return f"{RUNBOOK_BASE}{name}.md"


def alert_rules() -> list[dict[str, Any]]:
    groups = yaml.safe_load(RULES.read_text())["groups"]
    return [rule for group in groups for rule in group["rules"] if "alert" in rule]


def alert_names() -> list[str]:
    return [rule["alert"] for rule in alert_rules()]


def every_alarm() -> dict[str, str]:
    """Alarm key -> its name under the default prefix, with every optional alarm enabled."""
    params = SpecParameters(
        function_name="updateAttendeeCounter",
        timeout_seconds=60,
        on_failure_queue_name="updateAttendeeCounter-on-failure",
        reconciler_namespace="AttendeeCounter/Reconciler",
    )
    return {spec.key: spec.name(DEFAULT_PREFIX) for spec in build_specs(params)}


def title(page: Path) -> str:
    return page.read_text().splitlines()[0]


def test_the_specification_yields_every_alarm_key_when_all_alarms_are_on():
    assert sorted(every_alarm()) == sorted(ALARM_KEYS)


@pytest.mark.parametrize("key", ALARM_KEYS)
def test_every_alarm_has_a_runbook_page_titled_with_its_key(key: str):
    page = RUNBOOKS / f"{key}.md"
    assert page.is_file(), f"no runbook page for alarm {key}"
    assert title(page) == f"# {key}"


@pytest.mark.parametrize("key", ALARM_KEYS)
def test_every_alarm_page_names_the_alarm_as_cloudwatch_shows_it(key: str):
    assert f"`{every_alarm()[key]}`" in (RUNBOOKS / f"{key}.md").read_text()


def test_the_alert_rules_define_alerts():
    assert len(alert_names()) >= 1
    assert len(set(alert_names())) == len(alert_names())


@pytest.mark.parametrize("alert", alert_names())
def test_every_alert_has_a_runbook_page_titled_with_its_name(alert: str):
    page = RUNBOOKS / f"{alert}.md"
    assert page.is_file(), f"no runbook page for alert {alert}"
    assert title(page) == f"# {alert}"


@pytest.mark.parametrize("rule", alert_rules(), ids=lambda rule: rule["alert"])
def test_every_alert_links_to_its_own_runbook_page(rule: dict[str, Any]):
    url = rule["annotations"]["runbook_url"]
    assert url == runbook_url(rule["alert"])
    assert url.endswith(f"/docs/runbooks/{rule['alert']}.md")


def test_the_alert_unit_tests_expect_the_same_runbook_urls():
    tests = yaml.safe_load((RULES.parent / "alerts_test.yml").read_text())["tests"]
    expected = [
        (alert["exp_annotations"]["runbook_url"], check["alertname"])
        for case in tests
        for check in case.get("alert_rule_test", [])
        for alert in check.get("exp_alerts", [])
    ]
    assert expected
    for url, alert in expected:
        assert url == runbook_url(alert)


def test_there_is_no_runbook_page_without_an_alarm_or_alert():
    pages = {page.stem for page in RUNBOOKS.glob("*.md")} - {"index"}
    assert pages == set(ALARM_KEYS) | set(alert_names())


def test_the_runbook_index_links_every_page():
    index = (RUNBOOKS / "index.md").read_text()
    linked = set(re.findall(r"\]\(([^)#]+)\.md\)", index))
    assert set(ALARM_KEYS) | set(alert_names()) <= linked
