"""The wheel the image installs works in a fresh environment with runtime dependencies only,
and says what it is: py.typed, the extras (the demo's without the CDK), classifiers, URLs.

There is no Docker engine here, so this does what the Dockerfile does, on this machine: build the
wheel from the builder stage's sources, install it into a new virtualenv, run the entry point.
NETWORK: installing the runtime dependencies (and the build backend) reaches PyPI; pip's cache
keeps repeat runs to seconds.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import zipfile
from email.message import Message
from email.parser import Parser
from pathlib import Path

import pytest

from reconciler import __version__
from tests.deploy.test_dockerfile import BUILD_SOURCES

REPO_ROOT = Path(__file__).resolve().parents[2]
DEV_ONLY = ("aws_cdk", "moto", "pytest", "hypothesis", "cfnlint")

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("wheel")]


def _run(*args: str | Path, timeout: int = 600) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PIP_DISABLE_PIP_VERSION_CHECK": "1", "PYTHONDONTWRITEBYTECODE": "1"}
    return subprocess.run(
        [str(a) for a in args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env=env,
        check=False,
    )


@pytest.fixture(scope="module")
def wheel(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The project wheel, built from the builder stage's sources."""
    root = tmp_path_factory.mktemp("wheel")
    source = root / "src"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc")
    for name in BUILD_SOURCES:
        origin = REPO_ROOT / name
        if origin.is_dir():
            shutil.copytree(origin, source / name, ignore=ignore)
        else:
            source.mkdir(exist_ok=True)
            shutil.copy2(origin, source / name)

    built = _run(sys.executable, "-m", "pip", "wheel", "--no-deps", "-w", root / "dist", source)
    assert built.returncode == 0, built.stderr
    (built_wheel,) = (root / "dist").glob("attendee_counter_reconciler-*.whl")
    return built_wheel


@pytest.fixture(scope="module")
def installed(wheel: Path) -> Path:
    """A fresh venv holding the project wheel and its runtime dependencies; its bin dir."""
    venv = wheel.parent.parent / "venv"
    created = _run(sys.executable, "-m", "venv", "--without-pip", venv)
    assert created.returncode == 0, created.stderr
    python = venv / "bin" / "python"
    pip = (sys.executable, "-m", "pip", "--python", python)
    installed = _run(*pip, "install", "--quiet", wheel)
    assert installed.returncode == 0, installed.stderr
    return venv / "bin"


def test_installed_entry_point_runs_the_command_the_image_runs(installed: Path) -> None:
    # The image's ENTRYPOINT ["reconciler"] + CMD ["serve"], asked for its help.
    result = _run(installed / "reconciler", "serve", "--help", timeout=60)
    assert result.returncode == 0, result.stderr
    assert "usage: reconciler serve" in result.stdout
    assert "--port" in result.stdout


def test_only_runtime_dependencies_are_installed(installed: Path) -> None:
    probe = "import importlib.util as u, sys; print(*[m for m in sys.argv[1:] if u.find_spec(m)])"
    result = _run(installed / "python", "-c", probe, *DEV_ONLY, "structlog", "boto3")
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["structlog", "boto3"]


def test_the_wheel_carries_the_one_package_version(installed: Path) -> None:
    probe = "import importlib.metadata as m; print(m.version('attendee-counter-reconciler'))"
    metadata = _run(installed / "python", "-c", probe, timeout=60)
    assert metadata.returncode == 0, metadata.stderr
    assert metadata.stdout.strip() == __version__
    printed = _run(installed / "reconciler", "--version", timeout=60)
    assert printed.stdout.strip() == f"reconciler {__version__}"


def _metadata(wheel: Path) -> Message:
    with zipfile.ZipFile(wheel) as archive:
        (name,) = [n for n in archive.namelist() if n.endswith(".dist-info/METADATA")]
        return Parser().parsestr(archive.read(name).decode())


def test_the_wheel_ships_py_typed_for_both_packages(wheel: Path) -> None:
    with zipfile.ZipFile(wheel) as archive:
        names = set(archive.namelist())
    assert {"reconciler/py.typed", "alarms/py.typed"} <= names


def test_the_wheel_declares_the_demo_extra_without_the_cdk(wheel: Path) -> None:
    metadata = _metadata(wheel)
    assert {"demo", "dev", "deploy"} <= set(metadata.get_all("Provides-Extra") or [])
    requires = metadata.get_all("Requires-Dist") or []
    demo = [r for r in requires if 'extra == "demo"' in r]
    assert any(r.startswith("moto[") for r in demo), demo
    assert not [r for r in demo if r.startswith(("aws-cdk-lib", "constructs"))]
    assert [r for r in requires if r.startswith("aws-cdk-lib")] == [
        r for r in requires if r.startswith("aws-cdk-lib") and 'extra == "deploy"' in r
    ]


def test_the_wheel_carries_classifiers_and_project_urls(wheel: Path) -> None:
    metadata = _metadata(wheel)
    classifiers = metadata.get_all("Classifier") or []
    assert {"Typing :: Typed", "Programming Language :: Python :: 3.12"} <= set(classifiers)
    urls = {u.split(",")[0] for u in metadata.get_all("Project-URL") or []}
    assert {"Homepage", "Source", "Documentation", "Changelog", "Issues"} <= urls
