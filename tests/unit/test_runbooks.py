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
PROMETHEUS = REPO_ROOT / "deploy" / "prometheus"
RUNBOOK_BASE = "https://github.com/attendee-counter/reconciler/blob/main/docs/runbooks/"


def runbook_url(name: str) -> str:
    return f"{RUNBOOK_BASE}{name}.md"


def rule_files() -> list[Path]:
    """The rule files the example configuration loads: every shipped rule is in one of them."""
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    return [PROMETHEUS / name for name in config["rule_files"]]


def rule_test_files() -> list[Path]:
    return sorted(PROMETHEUS.glob("*_test.yml"))


def rules() -> list[dict[str, Any]]:
    """Every rule, recording and alerting, of every shipped rule file."""
    return [
        rule
        for path in rule_files()
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
    ]


def alert_rules() -> list[dict[str, Any]]:
    return [rule for rule in rules() if "alert" in rule]


def alert_checks() -> list[dict[str, Any]]:
    """Every ``alert_rule_test`` entry of every promtool test file."""
    return [
        check
        for path in rule_test_files()
        for case in yaml.safe_load(path.read_text())["tests"]
        for check in case.get("alert_rule_test", [])
    ]


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
    expected = [
        (alert["exp_annotations"]["runbook_url"], check["alertname"])
        for check in alert_checks()
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
