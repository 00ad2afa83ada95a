"""``reconciler alarms`` run through the real CLI against moto, and the alarms it should
leave there: shared by the apply, runbook and error tests of the command."""

from __future__ import annotations

import contextlib
import json
from typing import Any

import pytest

from alarms.spec import ALARM_KEYS
from reconciler.cli import main
from tests.integration.deployed_world import create_handler, create_queue, create_role
from tests.integration.terminal import stdout_is_a_terminal

FUNCTION = "updateAttendeeCounter"
PREFIX = "ac"
HANDLER_ALARMS = {
    f"{PREFIX}-handler-errors-sum-critical",
    f"{PREFIX}-handler-duration-p90-warning",
    f"{PREFIX}-handler-throttles-sum-warning",
    f"{PREFIX}-handler-iterator-age-maximum-critical",
    f"{PREFIX}-handler-partial-batch-failures-sum-warning",
    f"{PREFIX}-handler-malformed-records-sum-warning",
}
QUEUE_ALARM = f"{PREFIX}-on-failure-queue-approximate-number-of-messages-visible-maximum-critical"
RECONCILER_ALARMS = {
    f"{PREFIX}-reconciler-drifted-sum-warning",
    f"{PREFIX}-reconciler-failed-passes-sum-critical",
    f"{PREFIX}-reconciler-replay-kept-messages-maximum-warning",
}
HANDLER_KEYS = [key for key in ALARM_KEYS if key.startswith("handler-")]
DOCS = "https://github.com/attendee-counter/reconciler/blob/main/docs/runbooks"


def deploy_handler(clients: Any) -> str:
    """The stream handler's function on moto: its alarms need a function to watch."""
    return create_handler(clients, create_role(clients), FUNCTION, timeout=60)


def alarms_cli(
    capsys: pytest.CaptureFixture[str],
    *argv: str,
    env: dict[str, str] | None = None,
    terminal: bool = True,
) -> tuple[int, str, str]:
    """As a person runs it (stdout a terminal: one line per alarm), or as a script would."""
    capsys.readouterr()
    with stdout_is_a_terminal() if terminal else contextlib.nullcontext():
        code = main(["alarms", *argv, "--prefix", PREFIX, "--log-format", "json"], env=env or {})
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def plan_json(capsys: pytest.CaptureFixture[str], *argv: str) -> dict[str, list[str]]:
    code, out, err = alarms_cli(capsys, "plan", "--json", *argv)
    assert code == 0, err
    result: dict[str, list[str]] = json.loads(out)
    return result


def described(clients: Any) -> dict[str, dict[str, Any]]:
    alarms = clients.cloudwatch().describe_alarms(AlarmNamePrefix=f"{PREFIX}-")["MetricAlarms"]
    return {a["AlarmName"]: a for a in alarms}


def topic_arn(clients: Any, name: str = f"{PREFIX}-alarms") -> str:
    return str(clients.sns().create_topic(Name=name)["TopicArn"])


def apply_with_every_source(
    clients: Any, capsys: pytest.CaptureFixture[str]
) -> tuple[int, str, str]:
    """``apply`` with an on-failure queue and the reconciler namespace as well, so that it
    creates every alarm there is, not only the handler's."""
    create_queue(clients, "stream-failures")
    return alarms_cli(
        capsys,
        "apply",
        "--on-failure-queue",
        "stream-failures",
        "--reconciler-namespace",
        "AttendeeCounter/Reconciler",
    )
