"""The shipped alert rules load, every alert has a unit test, and our exposition is clean.

These run the real ``promtool`` (Debian package, installed by ``make tools``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import requests
import yaml
from prometheus_client import CollectorRegistry

from reconciler.reconcile.summary import AwsErrorKey, IoStats, PassSummary
from reconciler.serve.http import HttpServer, Readiness
from reconciler.serve.metrics import Outcome, ReconcilerMetrics
from tests.unit.test_runbooks import (
    alert_checks,
    alert_rules,
    rule_files,
    rule_test_files,
    rules,
    runbook_url,
)

RULES_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
PROMTOOL = shutil.which("promtool")

pytestmark = pytest.mark.skipif(
    PROMTOOL is None, reason="promtool is not on PATH: run `make tools` (apt package prometheus)"
)


def promtool(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
    assert PROMTOOL is not None
    return subprocess.run(
        [PROMTOOL, *args],
        input=stdin,
        capture_output=True,
        text=True,
        cwd=RULES_DIR,
        timeout=60,
        check=False,
    )


def alert_names() -> set[str]:
    return {rule["alert"] for rule in alert_rules()}


def test_the_example_configuration_loads_the_alerts_and_the_slo():
    assert [path.name for path in rule_files()] == ["alerts.yml", "slo.yml"]


@pytest.mark.parametrize("path", rule_files(), ids=lambda path: path.name)
def test_rule_files_pass_promtool_check_rules(path: Path):
    result = promtool("check", "rules", path.name)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("path", rule_test_files(), ids=lambda path: path.name)
def test_rule_unit_tests_pass(path: Path):
    result = promtool("test", "rules", path.name)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS" in result.stdout


def test_every_alert_is_tested_both_firing_and_not_firing():
    firing: set[str] = set()
    silent: set[str] = set()
    for check in alert_checks():
        (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    assert alert_names() - firing == set()
    assert alert_names() - silent == set()


def test_every_recording_rule_is_tested_or_feeds_another_rule():
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    tested = "\n".join(path.read_text() for path in rule_test_files())
    used = "\n".join(rule["expr"] for rule in rules())
    assert {name for name in recorded if name not in tested and name not in used} == set()


def test_every_alert_has_a_summary_description_and_its_own_runbook_page():
    for rule in alert_rules():
        annotations = rule["annotations"]
        assert annotations["summary"], rule["alert"]
        assert annotations["description"], rule["alert"]
        assert annotations["runbook_url"] == runbook_url(rule["alert"])
        assert rule["labels"]["severity"] in {"critical", "warning"}


def test_a_broken_rule_is_rejected_by_promtool(tmp_path):
    # guards against a promtool that accepts anything, which would make the tests above vacuous
    bad = tmp_path / "bad.yml"
    bad.write_text("groups:\n  - name: x\n    rules:\n      - alert: X\n        expr: up ==\n")
    assert promtool("check", "rules", str(bad)).returncode != 0


def test_served_exposition_passes_promtool_check_metrics():
    registry = CollectorRegistry()
    metrics = ReconcilerMetrics(registry, version="0.0.0")
    metrics.observe_pass(
        PassSummary(
            run_id="r",
            events_checked=5,
            drifted=1,
            drift_under=1,
            corrected=1,
            io=IoStats(errors={AwsErrorKey("Query", "ThrottlingException"): 1}),
        ),
        1.0,
        finished_at=10.0,
        outcome=Outcome.SUCCESS,
        consecutive_failures=0,
        drift_streak=1,
    )
    server = HttpServer(registry, lambda: Readiness(True), host="127.0.0.1", port=0)
    server.start()
    try:
        exposition = requests.get(f"{server.url}/metrics", timeout=5).text
    finally:
        server.stop()
    assert "reconciler_events_checked_total 5.0" in exposition
    result = promtool("check", "metrics", stdin=exposition)
    assert result.returncode == 0, result.stdout + result.stderr
    assert result.stdout.strip() == ""
    assert result.stderr.strip() == ""


def test_example_scrape_config_is_valid_and_loads_the_alert_rules():
    result = promtool("check", "config", "prometheus.yml")
    assert result.returncode == 0, result.stdout + result.stderr
    output = result.stdout + result.stderr
    for path in rule_files():
        count = sum(len(group["rules"]) for group in yaml.safe_load(path.read_text())["groups"])
        assert f"Checking {path.name}\n  SUCCESS: {count} rules found" in output
