"""The sharp edges a new user met first, each one message that says what to change."""

from __future__ import annotations

import socket
from typing import Any

import pytest
from prometheus_client import CollectorRegistry

from reconciler.cli import main
from reconciler.cli.exit_codes import ExitCode
from reconciler.serve.http import HttpServer, PortUnavailableError, Readiness
from tests.integration.test_reconcile_cli import run_cli
from tests.integration.traffic import Table


def test_a_missing_table_is_named_with_the_settings_that_choose_it(
    aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    for sweep in ("query", "auto"):
        code, summary, err = run_cli(capsys, None, "--sweep", sweep, TABLE_NAME="no-such-table")

        assert code == ExitCode.FAILURE
        assert summary is not None
        assert summary["outcome"] == "failure"
        assert "table no-such-table not found" in summary["error"]
        assert "--table-name / TABLE_NAME" in err


def test_a_pass_that_finds_no_event_warns_and_says_so_in_its_outcome(
    clients: Any, table_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary, err = run_cli(capsys, Table(clients, table_name))

    assert code == ExitCode.OK
    assert summary is not None
    assert (summary["outcome"], summary["events_checked"]) == ("empty", 0)
    assert "no event found; check --table-name / TABLE_NAME, --event-partitions" in err
    assert '"pass_found_no_events"' in err


def test_a_port_in_use_is_named_with_its_setting() -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]

        with pytest.raises(PortUnavailableError) as refused:
            HttpServer(CollectorRegistry(), lambda: Readiness(True), host="127.0.0.1", port=port)

    assert f"cannot listen on 127.0.0.1:{port}" in str(refused.value)
    assert "--port / RECONCILER_PORT" in str(refused.value)


def test_pump_without_a_region_is_one_line_not_a_traceback(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in ("AWS_DEFAULT_REGION", "AWS_REGION", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")

    code = main(["pump", "--table-name", "registrations"], env={})

    assert code == ExitCode.USAGE
    err = capsys.readouterr().err.strip()
    assert err.splitlines() == [
        "reconciler pump: invalid setting AWS_REGION: no AWS region configured "
        "(or AWS_DEFAULT_REGION, profile)"
    ]
