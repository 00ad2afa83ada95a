"""The documentation stays a map of the code: every command, module and metric has its place,
the README stays a front page, and no link in it leads nowhere.

``make docs`` runs the same strict build as the first test, so a broken link or anchor in the
site fails both.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from markdown.extensions.toc import slugify
from prometheus_client import CollectorRegistry

from reconciler.cli import COMMANDS
from reconciler.kernel import deployment_spec
from reconciler.serve.metrics import ReconcilerMetrics

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCS = REPO_ROOT / "docs"
README_MAX_LINES = 200
MAPPED_PACKAGES = tuple(
    sorted(
        str(init.parent.relative_to(REPO_ROOT))
        for root in ("reconciler", "alarms", "deploy")
        for init in (REPO_ROOT / root).rglob("__init__.py")
        if init.parent != REPO_ROOT / "reconciler" and "__pycache__" not in init.parts
    )
)
"""Every package (the root ``reconciler`` aside): each of its modules gets a line in the
architecture page's package map, so a new package or module cannot land unmapped."""

_LINK = re.compile(r"\]\(([^)\s]+)\)")


def nav_pages(nav: object) -> list[str]:
    if isinstance(nav, str):
        return [nav]
    if isinstance(nav, dict):
        return [page for value in nav.values() for page in nav_pages(value)]
    if isinstance(nav, list):
        return [page for item in nav for page in nav_pages(item)]
    return []


def anchors(page: Path) -> set[str]:
    """Heading anchors as MkDocs generates them (Python-Markdown's toc slugify)."""
    in_code = False
    found: set[str] = set()
    for line in page.read_text().splitlines():
        if line.startswith("```"):
            in_code = not in_code
        elif not in_code and (match := re.match(r"#{1,6}\s+(.*)", line)):
            found.add(slugify(match.group(1).replace("`", ""), "-"))
    return found


def package_map_section(package: str) -> str:
    text = (DOCS / "architecture.md").read_text()
    match = re.search(rf"^### `{re.escape(package)}/`.*?(?=^#|\Z)", text, re.MULTILINE | re.DOTALL)
    assert match, f"the package map has no section for {package}/"
    return match.group(0)


def test_the_site_builds_strictly(tmp_path: Path):
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    result = subprocess.run(
        [sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(tmp_path)],
        cwd=REPO_ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        env=env,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "runbooks" / "index.html").is_file()


def test_every_page_is_in_the_navigation_and_every_navigation_entry_exists():
    config = yaml.safe_load((REPO_ROOT / "mkdocs.yml").read_text())
    listed = nav_pages(config["nav"])
    on_disk = sorted(str(page.relative_to(DOCS)) for page in DOCS.rglob("*.md"))
    assert sorted(listed) == on_disk


@pytest.mark.parametrize("command", COMMANDS)
def test_every_command_has_its_own_page(command: str):
    page = DOCS / "commands" / f"{command}.md"
    assert page.is_file()
    assert page.read_text().startswith(f"# `reconciler {command}`")


@pytest.mark.parametrize("package", MAPPED_PACKAGES)
def test_the_package_map_has_a_line_for_every_module(package: str):
    section = package_map_section(package)
    modules = sorted(p.name for p in (REPO_ROOT / package).glob("*.py") if p.stem != "__init__")
    missing = [name for name in modules if f"`{name}`" not in section]
    assert missing == []


def test_the_package_map_names_no_module_that_does_not_exist():
    for package in MAPPED_PACKAGES:
        named = set(re.findall(r"`(\w+\.py)`", package_map_section(package)))
        assert named <= {p.name for p in (REPO_ROOT / package).glob("*.py")}, package


def test_every_prometheus_metric_is_in_the_metrics_reference():
    reference = (DOCS / "metrics.md").read_text()
    suffix = {"counter": "_total", "info": "_info"}
    families = list(ReconcilerMetrics(CollectorRegistry()).registry.collect())
    assert families
    missing = [
        family.name + suffix.get(family.type, "")
        for family in families
        if not re.search(rf"`{family.name}{suffix.get(family.type, '')}[`{{]", reference)
    ]
    assert missing == []


def test_every_cloudwatch_metric_name_is_in_the_metrics_reference():
    reference = (DOCS / "metrics.md").read_text()
    names = [
        value
        for key, value in vars(deployment_spec).items()
        if key.startswith("METRIC_") and isinstance(value, str)
    ]
    assert len(names) > 20
    assert [name for name in names if f"`{name}`" not in reference] == []


def test_the_readme_is_a_front_page_of_at_most_200_lines():
    assert len((REPO_ROOT / "README.md").read_text().splitlines()) <= README_MAX_LINES


def test_every_relative_link_in_the_readme_and_changelog_leads_somewhere():
    for document in ("README.md", "CHANGELOG.md"):
        for target in _LINK.findall((REPO_ROOT / document).read_text()):
            if re.match(r"[a-z]+:", target):
                continue
            path, _, anchor = target.partition("#")
            file = REPO_ROOT / path
            assert file.exists(), f"{document} links to missing {path}"
            if anchor:
                assert anchor in anchors(file), f"{document} links to missing {target}"
