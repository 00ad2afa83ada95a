"""The Lambda bundle's dependency walk: what gets vendored, for which runtime, and why not."""

from __future__ import annotations

from importlib import metadata
from pathlib import Path

import pytest

from tests.deploy.conftest import CDK_GROUP

pytestmark = CDK_GROUP  # importing deploy.bundling starts jsii


class FakeDistribution(metadata.Distribution):
    """An installed distribution described in memory: name, version, requirements, files."""

    def __init__(self, root: Path, name: str, version: str, requires: list[str]) -> None:
        self._root = root
        self._texts = {
            "METADATA": f"Metadata-Version: 2.1\nName: {name}\nVersion: {version}\n"
            + "".join(f"Requires-Dist: {r}\n" for r in requires),
            "WHEEL": "Wheel-Version: 1.0\nRoot-Is-Purelib: true\n",
        }

    def read_text(self, filename: str) -> str | None:
        return self._texts.get(filename)

    def locate_file(self, path: str | Path) -> Path:  # type: ignore[override]
        return self._root / path


def _lookup(tmp_path: Path, **specs: tuple[str, list[str]]) -> dict[str, metadata.Distribution]:
    return {
        name: FakeDistribution(tmp_path, name, version, requires)
        for name, (version, requires) in specs.items()
    }


def test_closure_follows_requirements_that_apply_on_the_target_python(tmp_path: Path) -> None:
    from deploy.bundling import TargetRuntime, dependency_closure

    lookup = _lookup(
        tmp_path,
        structlog=("26.1.0", ["typing-extensions; python_version < '3.11'", "attrs>=20"]),
        attrs=("24.2.0", []),
        **{"typing-extensions": ("4.12.0", [])},
    )
    closure = dependency_closure(["structlog"], TargetRuntime("3.12"), lookup=lookup)
    assert [d.metadata["Name"] for d in closure] == ["attrs", "structlog"]

    old_python = dependency_closure(["structlog"], TargetRuntime("3.10"), lookup=lookup)
    assert [d.metadata["Name"] for d in old_python] == ["attrs", "structlog", "typing-extensions"]


def test_closure_leaves_out_what_the_lambda_runtime_provides(tmp_path: Path) -> None:
    from deploy.bundling import TargetRuntime, dependency_closure

    lookup = _lookup(tmp_path, handlerdep=("1.0", ["boto3>=1.30", "urllib3"]))
    closure = dependency_closure(["handlerdep"], TargetRuntime(), lookup=lookup)
    assert [d.metadata["Name"] for d in closure] == ["handlerdep"]


def test_a_missing_dependency_is_a_clear_error(tmp_path: Path) -> None:
    from deploy.bundling import BundlingError, TargetRuntime, dependency_closure

    lookup = _lookup(tmp_path, structlog=("26.1.0", ["not-installed-anywhere"]))
    with pytest.raises(BundlingError, match="not-installed-anywhere is needed"):
        dependency_closure(["structlog"], TargetRuntime(), lookup=lookup)


def test_an_installed_version_outside_the_requirement_is_a_clear_error(tmp_path: Path) -> None:
    from deploy.bundling import BundlingError, TargetRuntime, dependency_closure

    lookup = _lookup(tmp_path, structlog=("20.1.0", []))
    with pytest.raises(BundlingError, match=r"structlog 20\.1\.0 is installed"):
        dependency_closure(["structlog>=24"], TargetRuntime(), lookup=lookup)


def test_package_copy_skips_bytecode_caches(tmp_path: Path) -> None:
    from deploy.bundling import copy_package

    package = tmp_path / "src" / "pkg"
    (package / "__pycache__").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "mod.py").write_text("X = 1\n")
    (package / "__pycache__" / "mod.cpython-311.pyc").write_bytes(b"\0")
    copied = copy_package(package, tmp_path / "out")
    assert sorted(map(str, copied)) == ["pkg/__init__.py", "pkg/mod.py"]
    assert (tmp_path / "out" / "pkg" / "mod.py").read_text() == "X = 1\n"
    assert not (tmp_path / "out" / "pkg" / "__pycache__").exists()


def test_vendoring_refuses_a_compiled_distribution(tmp_path: Path) -> None:
    from deploy.bundling import BundlingError, vendor_distribution

    dist = FakeDistribution(tmp_path, "fastthing", "1.0", [])
    dist._texts["WHEEL"] = "Wheel-Version: 1.0\nRoot-Is-Purelib: false\n"
    with pytest.raises(BundlingError, match="not pure Python"):
        vendor_distribution(dist, tmp_path / "out")


def test_bundling_twice_gives_byte_identical_trees(tmp_path: Path) -> None:
    # The asset hash is taken from this output: a nondeterministic bundle would redeploy the
    # function on every synth.
    from aws_cdk import BundlingOptions, DockerImage

    from deploy.bundling import HandlerBundling

    package = Path(__file__).resolve().parents[2] / "reconciler"
    bundler = HandlerBundling(package)
    options = BundlingOptions(image=DockerImage.from_registry("unused"))
    trees = []
    for name in ("first", "second"):
        out = tmp_path / name
        out.mkdir()
        assert bundler.try_bundle(str(out), options) is True
        trees.append(
            {str(p.relative_to(out)): p.read_bytes() for p in out.rglob("*") if p.is_file()}
        )
    assert trees[0] == trees[1]
    assert "structlog/__init__.py" in trees[0]
    assert "reconciler/kernel/deployment_spec.py" in trees[0]


def test_package_copy_limited_to_subpackages_takes_only_them_and_the_package_init(
    tmp_path: Path,
) -> None:
    from deploy.bundling import copy_package

    package = tmp_path / "src" / "pkg"
    for sub in ("kept", "dropped"):
        (package / sub).mkdir(parents=True)
        (package / sub / "__init__.py").write_text("")
    (package / "__init__.py").write_text("")
    (package / "__main__.py").write_text("")
    copied = copy_package(package, tmp_path / "out", ["kept"])
    assert sorted(map(str, copied)) == ["pkg/__init__.py", "pkg/kept/__init__.py"]
