"""What ``reconciler alarms`` refuses and how it says so: a function, queue or topic that
does not exist is a clear error (exit 1), and an invalid setting or no AWS region exits 2
with one line naming it."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.cli import main
from tests.integration.alarms_cli_support import alarms_cli, deploy_handler, described

handler = pytest.fixture(deploy_handler)


def test_unknown_function_name_gives_a_clear_error(
    clients: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = alarms_cli(capsys, "apply", "--function-name", "noSuchFunction")

    assert code == 1
    assert "Lambda function 'noSuchFunction' not found" in err
    assert "--function-name" in err
    assert out == ""
    assert described(clients) == {}


def test_missing_on_failure_queue_is_a_clear_error(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = alarms_cli(capsys, "plan", "--on-failure-queue", "no-such-queue")

    assert code == 1
    assert "SQS queue 'no-such-queue' does not exist" in err


def test_unknown_topic_arn_is_a_clear_error(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    missing = "arn:aws:sns:us-east-1:123456789012:nobody"

    code, _, err = alarms_cli(capsys, "apply", "--topic-arn", missing)

    assert code == 1
    assert f"SNS topic {missing!r} does not exist" in err


def test_invalid_setting_exits_2_with_one_line_naming_it(
    clients: Any, handler: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, out, err = alarms_cli(capsys, "plan", "--threshold", "handler-typo=3")

    assert code == 2
    assert out == ""
    assert err.count("\n") == 1
    assert "--threshold" in err
    assert "handler-typo" in err


def test_no_aws_region_exits_2_with_one_line(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")

    code = main(["alarms", "plan", "--function-name", "updateAttendeeCounter"], env={})

    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "AWS_REGION" in err
