"""`make demo` installs what the demo needs and nothing else; `make test` still gets everything.

The Makefile is asked what it would run (``make -n``) in a copy of the files it reads, with the
virtualenv's stamps faked, so no install happens here. The demo's own imports are tried with
the development and deployment tools made unimportable.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
PROJECT = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
DEMO_INSTALL = "pip install --quiet -e '.[demo]'"
FULL_INSTALL = "pip install --quiet -e '.[dev,deploy]'"
NOT_FOR_THE_DEMO = (
    "aws_cdk",
    "constructs",
    "jsii",
    "cfnlint",
    "pytest",
    "hypothesis",
    "mkdocs",
    "duckdb",
)


@pytest.fixture
def checkout(tmp_path: Path) -> Path:
    """The files the Makefile's rules read, in a directory without a virtualenv."""
    for name in ("Makefile", "pyproject.toml", "scripts/install-tools.sh"):
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(REPO_ROOT / name, tmp_path / name)
    return tmp_path


def _would_run(checkout: Path, target: str) -> str:
    result = subprocess.run(
        ["make", "-n", target],
        cwd=checkout,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def _fake_installed(checkout: Path, stamp: str) -> None:
    """A virtualenv as make sees it: the interpreter and a stamp newer than pyproject.toml."""
    (checkout / ".venv" / "bin").mkdir(parents=True, exist_ok=True)
    (checkout / ".venv" / "bin" / "python").touch()
    (checkout / ".venv" / stamp).touch()
    past = (checkout / "pyproject.toml").stat().st_mtime - 60
    os.utime(checkout / "pyproject.toml", (past, past))


def test_make_demo_installs_the_demo_extra_only_and_says_so(checkout: Path) -> None:
    commands = _would_run(checkout, "demo")
    assert DEMO_INSTALL in commands
    assert "dev" not in commands.replace("/dev/", "")
    assert "deploy" not in commands
    assert "installing what the demo needs only" in commands


def test_make_test_installs_dev_and_deploy_after_make_demo(checkout: Path) -> None:
    _fake_installed(checkout, ".installed-demo")
    assert DEMO_INSTALL not in _would_run(checkout, "demo")
    assert FULL_INSTALL in _would_run(checkout, "test")


def test_make_test_installs_nothing_once_dev_and_deploy_are_installed(checkout: Path) -> None:
    _fake_installed(checkout, ".installed-dev-deploy")
    commands = _would_run(checkout, "lint")
    assert "pip install" not in commands
    assert "ruff check" in commands


def test_the_demo_extra_needs_no_cdk_test_or_docs_tool() -> None:
    demo = " ".join(PROJECT["optional-dependencies"]["demo"]).lower()
    assert "moto[" in demo
    for heavy in ("aws-cdk-lib", "constructs", "cfn-lint", "pytest", "mkdocs", "moto[server]"):
        assert heavy not in demo


def test_the_demo_imports_nothing_from_the_dev_or_deploy_extras() -> None:
    # Every module `reconciler demo` loads, moto's in-process server included, with the heavy
    # extras' packages refused at import time.
    probe = f"""
import importlib.abc, sys
class Refuse(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        if name.split(".")[0] in {NOT_FOR_THE_DEMO!r}:
            raise ImportError("the demo must not need " + name)
sys.meta_path.insert(0, Refuse())
import reconciler.cli.demo, reconciler.devtools.demo.run
from moto.moto_server.werkzeug_app import DomainDispatcherApplication, create_backend_app
DomainDispatcherApplication(create_backend_app)
print("ok")
"""
    result = subprocess.run(
        [sys.executable, "-c", probe],
        capture_output=True,
        text=True,
        timeout=120,
        cwd=REPO_ROOT,
        check=False,
    )
    assert (result.returncode, result.stdout.strip()) == (0, "ok"), result.stderr
