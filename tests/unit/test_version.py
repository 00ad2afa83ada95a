"""The version is written once, in ``reconciler.__version__``, and everything else reads it.

A release bumps one line; the package metadata, ``reconciler --version``, the serve info metric
and the changelog can then never disagree.
"""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import requests
from prometheus_client import CollectorRegistry

from reconciler import __version__
from reconciler.cli import main
from reconciler.kernel.aws import local_clients
from reconciler.kernel.model import TableModel
from reconciler.kernel.settings import TableSettings
from reconciler.reconcile.settings import RunSettings
from reconciler.serve.app import ServeSettings, build_app
from reconciler.serve.scheduler import Schedule

REPO_ROOT = Path(__file__).resolve().parents[2]


def test_the_version_is_a_plain_semantic_version():
    assert re.fullmatch(r"\d+\.\d+\.\d+", __version__)


def test_the_package_metadata_reads_the_version_from_the_package():
    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    assert "version" not in pyproject["project"]
    assert "version" in pyproject["project"]["dynamic"]
    dynamic = pyproject["tool"]["setuptools"]["dynamic"]["version"]
    assert dynamic == {"attr": "reconciler.__version__"}


def test_reconciler_version_prints_the_package_version(capsys: pytest.CaptureFixture[str]):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"], env={})
    assert exit_info.value.code == 0
    assert capsys.readouterr().out.strip() == f"reconciler {__version__}"


def test_the_serve_info_metric_reports_the_package_version():
    run = RunSettings(table=TableSettings("registrations", TableModel()))
    # No lease, no lag gate and no pass due for an hour: nothing here calls AWS.
    settings = ServeSettings(schedule=Schedule(every=3600.0), host="127.0.0.1", port=0, lease=None)
    app = build_app(
        run, settings, local_clients("http://127.0.0.1:9", "us-east-1"), CollectorRegistry()
    )
    try:
        app.start()
        exposition = requests.get(app.metrics_url, timeout=5).text
    finally:
        app.shutdown()
    assert f'reconciler_build_info{{version="{__version__}"}} 1.0' in exposition


def test_the_newest_changelog_release_is_the_package_version():
    changelog = (REPO_ROOT / "CHANGELOG.md").read_text()
    releases = re.findall(r"^## \[(\d+\.\d+\.\d+)\]", changelog, flags=re.MULTILINE)
    assert releases, "CHANGELOG.md has no release section"
    assert releases[0] == __version__
