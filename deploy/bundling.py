"""Lambda code bundled on this machine, without Docker.

The handler ships as the ``reconciler`` package plus the few third-party distributions it
needs that the Lambda Python runtime does not already provide. Those are vendored from the
environment that runs the synth, file by file from each distribution's RECORD, so the bundle
holds exactly the bits the test suite ran against, needs no network, and hashes the same on
every synth (the asset hash is taken from this output, so a dependency upgrade is a new asset).
"""

from __future__ import annotations

import re
import shutil
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from importlib import metadata
from pathlib import Path
from typing import cast

import jsii
from aws_cdk import BundlingOptions, ILocalBundling
from packaging.markers import Marker
from packaging.requirements import Requirement

LAMBDA_RUNTIME_PROVIDED: frozenset[str] = frozenset(
    {"boto3", "botocore", "s3transfer", "jmespath", "python-dateutil", "six", "urllib3"}
)
"""Distributions the AWS Lambda Python runtime already ships; vendoring them only bloats the zip
and shadows the runtime's patched copies."""

HANDLER_SUBPACKAGES: tuple[str, ...] = ("kernel", "handler")
"""The parts of the ``reconciler`` package the handler runs: its own package and the shared
kernel. The reconciler, ``serve``, the doctor, the CLI and the devtools stay out of the Lambda."""

HANDLER_DEPENDENCIES: tuple[str, ...] = ("structlog",)
"""Direct runtime dependencies of ``reconciler.handler.entry`` beyond the Lambda runtime."""

_IGNORED_PARTS = frozenset({"__pycache__"})
_IGNORED_SUFFIXES = frozenset({".pyc", ".pyo"})


class BundlingError(RuntimeError):
    """The Lambda bundle cannot be built from this environment (a fix is in the message)."""


def canonical_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@dataclass(frozen=True, slots=True)
class TargetRuntime:
    """The Lambda runtime the bundle is for; dependency markers are evaluated against it."""

    python_version: str = "3.12"
    machine: str = "x86_64"

    def marker_environment(self) -> dict[str, str]:
        return {
            "python_version": self.python_version,
            "python_full_version": f"{self.python_version}.0",
            "implementation_name": "cpython",
            "platform_python_implementation": "CPython",
            "os_name": "posix",
            "sys_platform": "linux",
            "platform_system": "Linux",
            "platform_machine": self.machine,
            "platform_release": "",
            "platform_version": "",
            "implementation_version": f"{self.python_version}.0",
            "extra": "",
        }


def _applies(requirement: Requirement, target: TargetRuntime) -> bool:
    if requirement.marker is None:
        return True
    return Marker(str(requirement.marker)).evaluate(target.marker_environment())


def dependency_closure(
    roots: Iterable[str],
    target: TargetRuntime,
    *,
    provided: frozenset[str] = LAMBDA_RUNTIME_PROVIDED,
    lookup: Mapping[str, metadata.Distribution] | None = None,
) -> list[metadata.Distribution]:
    """Installed distributions needed on ``target``: the roots and what they require there,
    minus what the runtime provides; sorted by name so the bundle is deterministic."""
    found: dict[str, metadata.Distribution] = {}
    pending = [Requirement(root) for root in roots]
    while pending:
        requirement = pending.pop()
        name = canonical_name(requirement.name)
        if name in provided or name in found or not _applies(requirement, target):
            continue
        dist = _installed(name, lookup)
        if dist.version not in requirement.specifier:
            raise BundlingError(
                f"{name} {dist.version} is installed but {requirement} is required; "
                "reinstall the project's dependencies"
            )
        found[name] = dist
        pending.extend(Requirement(text) for text in dist.requires or ())
    return [found[name] for name in sorted(found)]


def _installed(
    name: str, lookup: Mapping[str, metadata.Distribution] | None
) -> metadata.Distribution:
    try:
        return lookup[name] if lookup is not None else metadata.distribution(name)
    except (KeyError, metadata.PackageNotFoundError):
        raise BundlingError(
            f"{name} is needed in the Lambda bundle but is not installed here; "
            "run `make synth` (it installs the project's dependencies) and retry"
        ) from None


def _is_pure(dist: metadata.Distribution) -> bool:
    wheel = dist.read_text("WHEEL") or ""
    return "Root-Is-Purelib: true" in wheel


def _wanted(relative: Path) -> bool:
    return not (_IGNORED_PARTS & set(relative.parts)) and relative.suffix not in _IGNORED_SUFFIXES


def vendor_distribution(dist: metadata.Distribution, output_dir: Path) -> list[Path]:
    """Copy one installed distribution's files (as its RECORD lists them) into ``output_dir``."""
    name = dist.metadata["Name"]
    if not _is_pure(dist):
        raise BundlingError(
            f"{name} is not pure Python: a copy built for this machine may not load on Lambda; "
            "bundle it for the Lambda platform instead"
        )
    copied: list[Path] = []
    for entry in sorted(dist.files or (), key=str):
        relative = Path(str(entry))
        if relative.is_absolute() or ".." in relative.parts or not _wanted(relative):
            continue  # console scripts and data outside site-packages are not importable code
        source = Path(str(dist.locate_file(entry)))
        if not source.is_file():
            continue
        destination = output_dir / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
        copied.append(relative)
    if not copied:
        raise BundlingError(f"{name} has no files to vendor (RECORD missing?)")
    return copied


def copy_package(
    package_dir: Path, output_dir: Path, subpackages: Sequence[str] | None = None
) -> list[Path]:
    """Copy a source package (without bytecode caches) under its own name into ``output_dir``.

    With ``subpackages``, only the package's ``__init__.py`` and those subpackages are copied.
    """
    copied: list[Path] = []
    for source in sorted(package_dir.rglob("*")):
        relative = source.relative_to(package_dir.parent)
        if not source.is_file() or not _wanted(relative):
            continue
        if subpackages is not None and not _in_subpackages(relative, subpackages):
            continue
        destination = output_dir / relative
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source, destination)
        copied.append(relative)
    return copied


def _in_subpackages(relative: Path, subpackages: Sequence[str]) -> bool:
    inside = relative.parts[1:]
    return inside == ("__init__.py",) or (len(inside) > 1 and inside[0] in subpackages)


@jsii.implements(ILocalBundling)
class HandlerBundling:
    """Builds the handler's deployment package in Python, so synth never needs Docker.

    A plain class, not a frozen dataclass: jsii stores its object reference on the instance.
    """

    def __init__(
        self,
        package_dir: Path,
        dependencies: Sequence[str] = HANDLER_DEPENDENCIES,
        target: TargetRuntime | None = None,
        subpackages: Sequence[str] = HANDLER_SUBPACKAGES,
    ) -> None:
        self.package_dir = package_dir
        self.dependencies = tuple(dependencies)
        self.subpackages = tuple(subpackages)
        self.target = target or TargetRuntime()

    def try_bundle(self, output_dir: str, options: BundlingOptions) -> bool:
        """Called by CDK with the asset's output directory; True means "done, skip Docker"."""
        del options  # the Docker fallback's settings; unused by the local path
        out = Path(output_dir)
        copy_package(self.package_dir, out, self.subpackages)
        for dist in dependency_closure(self.dependencies, self.target):
            vendor_distribution(dist, out)
        return True


def local_bundling(
    package_dir: Path,
    *,
    python_version: str,
    dependencies: Sequence[str] = HANDLER_DEPENDENCIES,
) -> ILocalBundling:
    """A ``HandlerBundling`` typed as the interface CDK asks for.

    jsii's generated ``ILocalBundling.try_bundle`` declares the options as keyword arguments,
    but the kernel calls ``try_bundle(output_dir, options)``; the cast records that the
    positional form (which is what works) is intended.
    """
    bundler = HandlerBundling(
        package_dir, dependencies, TargetRuntime(python_version=python_version)
    )
    return cast(ILocalBundling, bundler)
