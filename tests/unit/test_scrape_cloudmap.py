"""The Cloud Map scrape configuration is one Prometheus accepts, as the local example is.

Runs the real ``promtool`` (Debian package, installed by ``make tools``).
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

PROMETHEUS_DIR = Path(__file__).resolve().parents[2] / "deploy" / "prometheus"
PROMTOOL = shutil.which("promtool")


def _config(name: str) -> dict[str, object]:
    loaded: dict[str, object] = yaml.safe_load((PROMETHEUS_DIR / name).read_text())
    return loaded


@pytest.mark.skipif(PROMTOOL is None, reason="promtool is not on PATH: run `make tools`")
def test_promtool_accepts_the_cloud_map_scrape_config_and_its_rules() -> None:
    assert PROMTOOL is not None
    result = subprocess.run(
        [PROMTOOL, "check", "config", "scrape-cloudmap.yml"],
        capture_output=True,
        text=True,
        cwd=PROMETHEUS_DIR,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "SUCCESS: scrape-cloudmap.yml is valid prometheus config file syntax" in result.stdout


def test_the_cloud_map_config_loads_the_same_rules_as_the_local_example() -> None:
    assert _config("scrape-cloudmap.yml")["rule_files"] == _config("prometheus.yml")["rule_files"]


def test_both_configs_name_the_job_the_alerts_match() -> None:
    for name in ("scrape-cloudmap.yml", "prometheus.yml"):
        jobs = _config(name)["scrape_configs"]
        assert isinstance(jobs, list)
        assert [job["job_name"] for job in jobs] == ["reconciler"], name
