"""What ``reconciler alarms`` refuses and how it says so: a function, queue or topic that
does not exist is a clear error (exit 1), and an invalid setting or no AWS region exits 2
with one line naming it."""

from __future__ import annotations

import json
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


def test_plan_with_a_given_timeout_needs_no_deployed_function(
    clients: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN no handler function at all (StatelessStack not deployed yet)
    code, out, err = alarms_cli(capsys, "plan", "--json", "--function-timeout", "60")

    assert code == 0, err
    assert len(json.loads(out)["create"]) >= 6
    assert described(clients) == {}


def test_a_bad_setting_is_refused_before_any_aws_call(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    # An endpoint nothing listens on: any AWS call would fail with "unreachable", not exit 2.
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    code, _, err = alarms_cli(
        capsys, "plan", "--function-timeout", "60", "--period", "handler-errors=45"
    )

    assert code == 2
    assert "must be 10, 20, 30 or a multiple of 60, got 45" in err
    assert "unreachable" not in err
