"""cfn-lint on every synthesized template, with the app creating its tables and adopting one,
each also in the reconciler's export mode; only W3005 (CDK's redundant DependsOn) is ignored."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.deploy.conftest import CDK_GROUP, Synth

pytestmark = CDK_GROUP

EXPECTED_STACKS = {"StatefulStack", "StatelessStack", "MonitoringStack", "ReconcilerStack"}


def _cfn_lint() -> str:
    beside_python = Path(sys.executable).with_name("cfn-lint")
    found = str(beside_python) if beside_python.exists() else shutil.which("cfn-lint")
    assert found, "cfn-lint is not installed (it comes with the dev extras)"
    return found


def test_every_stack_of_the_app_is_linted(synth: Synth) -> None:
    assert set(synth.template_files) >= EXPECTED_STACKS
    assert all(path.exists() for path in synth.template_files.values())


@pytest.mark.parametrize("mode", ["synth", "adopted", "exporting", "adopted_exporting"])
def test_cfn_lint_finds_nothing_in_any_template(mode: str, request: pytest.FixtureRequest) -> None:
    app: Synth = request.getfixturevalue(mode)
    templates = [str(path) for _, path in sorted(app.template_files.items())]
    result = subprocess.run(
        [_cfn_lint(), "--format", "parseable", "-i", "W3005", "--", *templates],
        capture_output=True,
        text=True,
        timeout=600,  # generous: shared CI machines can be heavily loaded
        check=False,
    )
    assert (result.returncode, result.stdout, result.stderr) == (0, "", "")
