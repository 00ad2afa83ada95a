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
from tests.unit.test_runbooks import runbook_url

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
    rules = yaml.safe_load((RULES_DIR / "alerts.yml").read_text())
    return {rule["alert"] for group in rules["groups"] for rule in group["rules"]}


def test_alert_rules_pass_promtool_check_rules():
    result = promtool("check", "rules", "alerts.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_alert_rule_unit_tests_pass():
    result = promtool("test", "rules", "alerts_test.yml")
    assert result.returncode == 0, result.stdout + result.stderr


def test_every_alert_is_tested_both_firing_and_not_firing():
    tests = yaml.safe_load((RULES_DIR / "alerts_test.yml").read_text())["tests"]
    firing: set[str] = set()
    silent: set[str] = set()
    for case in tests:
        for check in case.get("alert_rule_test", []):
            (firing if check.get("exp_alerts") else silent).add(check["alertname"])
    assert alert_names() - firing == set()
    assert alert_names() - silent == set()


def test_every_alert_has_a_summary_description_and_its_own_runbook_page():
    rules = yaml.safe_load((RULES_DIR / "alerts.yml").read_text())
    for group in rules["groups"]:
        for rule in group["rules"]:
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
    rules = yaml.safe_load((RULES_DIR / "alerts.yml").read_text())["groups"][0]["rules"]
    assert f"{len(rules)} rules found" in result.stdout + result.stderr
