"""One synthesized CDK app per test session, shared by every deploy test.

Starting jsii and synthesizing costs seconds; asserting on the result costs milliseconds. So the
app is built once, written to a temporary cloud assembly (which cfn-lint then reads), and every
test inspects that. Tests that need the app mark themselves ``xdist_group("cdk")`` so that, under
``pytest -n``, they share one worker and one jsii process.
"""

from __future__ import annotations

import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

os.environ.setdefault("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION", "20")
os.environ.setdefault(
    "JSII_RUNTIME_PACKAGE_CACHE_ROOT", str(Path.home() / ".cache" / "aws" / "jsii")
)

CDK_GROUP = pytest.mark.xdist_group("cdk")


@dataclass(frozen=True)
class Synth:
    """The synthesized app: stack objects, their templates, and the files cfn-lint reads."""

    stacks: Any  # deploy.app.Stacks; imported lazily so collection never starts jsii
    outdir: Path
    template_files: dict[str, Path]

    def template(self, attribute: str) -> Any:
        """``aws_cdk.assertions.Template`` of a stack, by its attribute on ``deploy.app.Stacks``."""
        from aws_cdk.assertions import Template

        return Template.from_stack(getattr(self.stacks, attribute))

    def raw(self, attribute: str) -> dict[str, Any]:
        """The synthesized template as JSON, by the stack's attribute on ``Stacks``."""
        stack_name = getattr(self.stacks, attribute).stack_name
        data: dict[str, Any] = json.loads(self.template_files[stack_name].read_text())
        return data


ADOPTED_TABLE = "registrations"
ADOPTED_STREAM_ARN = (
    "arn:aws:dynamodb:eu-west-1:123456789012:table/registrations/stream/2024-05-01T10:00:00.000"
)
ADOPTED_CONTEXT = {"existingTableName": ADOPTED_TABLE, "existingTableStreamArn": ADOPTED_STREAM_ARN}
"""A table the app did not create, as an operator names it (``deploy.tables``)."""


def synthesize(outdir: Path, context: dict[str, object] | None = None) -> Synth:
    from deploy.app import build_app

    stacks = build_app(str(outdir), context)
    assembly = stacks.app.synth()
    files = {stack.stack_name: Path(stack.template_full_path) for stack in assembly.stacks}
    return Synth(stacks=stacks, outdir=outdir, template_files=files)


@pytest.fixture(scope="session")
def synth(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(tmp_path_factory.mktemp("cdk.out"))


@pytest.fixture(scope="session")
def adopted(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """The app adopting an existing table: ``-c existingTableName -c existingTableStreamArn``."""
    return synthesize(tmp_path_factory.mktemp("cdk.out-adopted"), ADOPTED_CONTEXT)


EXPORT_CONTEXT = {"reconcilerFromExport": "new"}
"""The reconciler recounting from a fresh export each pass (``deploy.export_mode``)."""


@pytest.fixture(scope="session")
def exporting(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    return synthesize(tmp_path_factory.mktemp("cdk.out-export"), EXPORT_CONTEXT)


@pytest.fixture(scope="session")
def adopted_exporting(tmp_path_factory: pytest.TempPathFactory) -> Synth:
    """Export mode on an adopted table, with a prefix given as an operator might type it."""
    context = {**ADOPTED_CONTEXT, **EXPORT_CONTEXT, "exportPrefix": "/n/"}
    return synthesize(tmp_path_factory.mktemp("cdk.out-adopted-export"), context)
