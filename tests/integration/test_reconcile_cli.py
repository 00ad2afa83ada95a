"""``reconciler run`` end to end against a moto server: exit codes, the JSON last line, the audit
file, ``--event`` and ``--shard``. Settle windows are real but tiny here."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import main
from reconciler.kernel.model import EventKey
from reconciler.reconcile.core import Shard, in_shard
from tests.fakes.reconcile import REQUIRED_SUMMARY_KEYS
from tests.integration.traffic import Table


@pytest.fixture
def table(clients: Any, table_name: str) -> Table:
    return Table(clients, table_name)


def run_cli(
    capsys: pytest.CaptureFixture[str], table: Table | None, *args: str, **env: str
) -> tuple[int, dict[str, Any] | None, str]:
    environment = dict(os.environ)
    if table is not None:
        environment["TABLE_NAME"] = table.name
    environment.update(env)
    code = main(
        ["run", "--once", "--settle-seconds", "0.05", "--log-format", "json", *args], environment
    )
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    summary = json.loads(lines[-1]) if lines else None
    return code, summary, captured.err


def outcome_lines(audit: Path) -> list[dict[str, Any]]:
    """The audit file's outcome lines (each write's intent line precedes its outcome)."""
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    return [line for line in lines if line["phase"] != "intent"]


def seed(table: Table, drifted: int, exact: int = 0) -> list[EventKey]:
    keys = []
    for i in range(drifted + exact):
        key = table.put_event(EventKey("EVENT", f"event-{i:03d}#2024-10-27#conference"), 0)
        keys.append(key)
        if i < drifted:
            table.register(key.slug, f"someone-{i}@example.com")
    return keys


def test_a_clean_pass_exits_0_with_the_summary_as_the_last_line(
    table: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = seed(table, drifted=2, exact=3)
    code, summary, _ = run_cli(capsys, table)
    assert code == 0
    assert summary is not None
    assert set(summary) >= REQUIRED_SUMMARY_KEYS
    assert (summary["events_checked"], summary["drifted"], summary["corrected"]) == (5, 2, 2)
    assert summary["failed"] is False
    assert summary["consumed_read_units"] > 0
    assert all(table.stored(k) == table.true_count(k.slug) for k in keys)


def test_the_brake_exits_3_and_writes_nothing(
    table: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = seed(table, drifted=3)
    code, summary, err = run_cli(capsys, table, "--max-corrections", "2")
    assert code == 3
    assert summary is not None
    assert summary["brake_tripped"] is True
    assert summary["planned"] == 3
    assert "brake tripped" in err
    assert all(table.stored(k) == 0 for k in keys)


def test_force_overrides_the_brake(table: Table, capsys: pytest.CaptureFixture[str]) -> None:
    seed(table, drifted=3)
    code, summary, _ = run_cli(capsys, table, "--max-corrections", "2", "--force")
    assert code == 0
    assert summary is not None
    assert summary["corrected"] == 3


def test_dry_run_exits_0_plans_and_writes_nothing(
    table: Table, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    keys = seed(table, drifted=2)
    audit = tmp_path / "audit.jsonl"
    code, summary, err = run_cli(capsys, table, "--dry-run", "--audit-file", str(audit))
    assert code == 0
    assert summary is not None
    assert (summary["dry_run"], summary["planned"], summary["corrected"]) == (True, 2, 0)
    assert summary["hold"] == "dry_run"
    assert all(table.stored(k) == 0 for k in keys)
    records = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [(r["outcome"], r["hold"]) for r in records] == [("dry_run", "dry_run")] * 2
    # a rehearsal never logs a counter as corrected
    events = [json.loads(line).get("event") for line in err.splitlines() if line.startswith("{")]
    assert events.count("counter_correction_planned") == 2
    assert "counter_corrected" not in events


def test_invalid_settings_exit_2_with_one_line_naming_the_setting(
    table: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary, err = run_cli(capsys, table, "--shard", "4/4")
    assert code == 2
    assert summary is None
    assert err.strip().count("\n") == 0
    assert "--shard" in err


def test_invalid_settings_from_the_environment_exit_2(
    table: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    code, _, err = run_cli(capsys, table, RECONCILER_CONCURRENCY="lots")
    assert code == 2
    assert "RECONCILER_CONCURRENCY" in err


def test_a_missing_table_exits_1_and_still_prints_the_summary(
    capsys: pytest.CaptureFixture[str], aws: str
) -> None:
    code, summary, err = run_cli(capsys, None, TABLE_NAME="no-such-table")
    assert code == 1
    assert summary is not None
    assert summary["failed"] is True
    assert "table no-such-table not found" in summary["error"]
    assert summary["aws_errors"] == {"DescribeTable:ResourceNotFoundException": 1}
    assert "failed" in err


def test_an_unreachable_endpoint_exits_1_with_a_clear_error_and_counts_the_attempts(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    with socket.socket() as probe:  # a port nobody listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    monkeypatch.setenv("AWS_ENDPOINT_URL", f"http://127.0.0.1:{port}")
    code, summary, _ = run_cli(capsys, None, "--aws-max-attempts", "2", TABLE_NAME="t")
    assert code == 1
    assert summary is not None
    assert summary["failed"] is True
    assert "unreachable" in summary["error"]
    # botocore's max_attempts counts retries: the first attempt and two retries failed. The first
    # request of a pass is --sweep auto's look at the table's shape.
    assert summary["aws_errors"] == {"DescribeTable:EndpointConnectionError": 3}


def test_a_malformed_endpoint_url_exits_2_with_one_line_naming_it(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "not a url")
    code, summary, err = run_cli(capsys, None, TABLE_NAME="t")
    assert code == 2
    assert summary is None
    assert err.strip().count("\n") == 0
    assert "AWS_ENDPOINT_URL" in err


@pytest.fixture
def closing_endpoint() -> Iterator[str]:
    """An endpoint that accepts every connection and closes it unanswered (a dying proxy)."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(16)
    server.settimeout(0.2)
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            with conn:
                conn.settimeout(1)
                with contextlib.suppress(OSError):
                    conn.recv(65536)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.getsockname()[1]}"
    stop.set()
    thread.join(timeout=5)
    server.close()


def test_a_connection_closed_by_the_endpoint_exits_1_with_the_summary(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, closing_endpoint: str
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", closing_endpoint)
    code, summary, _ = run_cli(capsys, None, "--aws-max-attempts", "0", TABLE_NAME="t")
    assert code == 1
    assert summary is not None
    assert summary["failed"] is True
    assert "unreachable" in summary["error"]


@pytest.mark.parametrize("args", [(), ("--event", "tech")], ids=["listing", "event"])
def test_missing_credentials_exit_1_with_the_summary(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    aws: str,
    tmp_path: Path,
    args: tuple[str, ...],
) -> None:
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.delenv("AWS_SECURITY_TOKEN", raising=False)
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    code, summary, _ = run_cli(capsys, None, *args, TABLE_NAME="t")
    assert code == 1
    assert summary is not None
    assert summary["failed"] is True
    assert "NoCredentialsError" in summary["error"]


def test_event_option_touches_one_event_and_an_unknown_slug_fails(
    table: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = seed(table, drifted=3)
    code, summary, _ = run_cli(capsys, table, "--event", keys[1].slug)
    assert code == 0
    assert summary is not None
    assert summary["events_checked"] == 1
    assert [table.stored(k) for k in keys] == [0, 1, 0]
    code, summary, _ = run_cli(capsys, table, "--event", "no-such-event")
    assert code == 1
    assert summary is not None
    assert "no-such-event" in summary["error"]


def test_shards_split_the_events_without_overlap_and_cover_them_all(
    table: Table, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    keys = seed(table, drifted=12)
    audit = tmp_path / "audit.jsonl"
    checked = 0
    slugs: list[str] = []
    for index in range(3):
        code, summary, _ = run_cli(
            capsys, table, "--shard", f"{index}/3", "--audit-file", str(audit)
        )
        assert code == 0
        assert summary is not None
        assert summary["shard"] == f"{index}/3"
        checked += summary["events_checked"]
        lines = outcome_lines(audit)[len(slugs) :]
        mine = [line["slug"] for line in lines]
        assert all(in_shard(slug, Shard(index, 3)) for slug in mine)
        slugs.extend(mine)
    assert sorted(slugs) == sorted(k.slug for k in keys)  # union = all, no duplicates
    assert checked == len(keys)
    assert all(table.stored(k) == 1 for k in keys)


def test_the_audit_file_is_appended_across_runs(
    table: Table, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    keys = seed(table, drifted=1)
    audit = tmp_path / "audit.jsonl"
    run_cli(capsys, table, "--audit-file", str(audit))
    table.ddb.update_item(
        TableName=table.name,
        Key={"pk": {"S": keys[0].partition}, "sk": {"S": keys[0].sort_key}},
        UpdateExpression="SET attendeeCount = :n",
        ExpressionAttributeValues={":n": {"N": "40"}},
    )  # a hand edit
    run_cli(capsys, table, "--audit-file", str(audit))
    lines = [json.loads(line) for line in audit.read_text().splitlines()]
    assert [line["phase"] for line in lines] == ["intent", "outcome"] * 2  # written ahead
    records = outcome_lines(audit)
    assert [(r["stored"], r["counted"], r["delta"]) for r in records] == [(0, 1, 1), (40, 1, -39)]
    assert records[0]["run_id"] != records[1]["run_id"]
    text = audit.read_text()
    assert "@example.com" not in text


def test_an_audit_file_that_cannot_be_appended_exits_2_before_writing_anything(
    table: Table, capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    keys = seed(table, drifted=2)
    link = tmp_path / "audit.jsonl"
    link.symlink_to(tmp_path / "gone" / "audit.jsonl")
    code, summary, err = run_cli(capsys, table, "--audit-file", str(link))
    assert code == 2
    assert summary is None
    assert "--audit-file" in err
    assert all(table.stored(k) == 0 for k in keys)  # no correction without its audit line


def test_a_settle_window_within_the_batching_window_is_warned_about(
    table: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN a settle window shorter than the handler's batching window (5 s)
    seed(table, drifted=0, exact=1)
    code, _, err = run_cli(capsys, table)
    # THEN the pass runs, and the operator is told in-flight records could look like drift
    assert code == 0
    assert "settle_window_too_short" in err


def test_the_default_settle_window_is_not_warned_about(
    table: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(table, drifted=0, exact=1)
    code, _, err = run_cli(capsys, table, "--settle-seconds", "120")
    assert code == 0
    assert "settle_window_too_short" not in err


def test_the_deadline_stops_the_pass_prints_the_summary_and_exits_4(
    table: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    # GIVEN drifted events and a pass that would wait a minute before its rechecks
    keys = seed(table, drifted=2)
    # WHEN its deadline comes first (after the first looks: no time spent choosing the sweep)
    code, summary, err = run_cli(
        capsys, table, "--settle-seconds", "60", "--deadline", "300ms", "--sweep", "query"
    )
    # THEN it stops at a safe point, says so, and wrote nothing half-way
    assert code == 4
    assert summary is not None
    assert (summary["stopped_early"], summary["stopped_by"], summary["failed"]) == (
        True,
        "deadline",
        False,
    )
    assert summary["events_checked"] == 2
    assert summary["duration_seconds"] < 10
    assert "stopped before the pass completed" in err
    assert all(table.stored(k) == 0 for k in keys)


def test_the_deadline_can_come_from_the_environment(
    table: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    seed(table, drifted=1)
    code, summary, _ = run_cli(capsys, table, "--settle-seconds", "60", RECONCILER_DEADLINE="200ms")
    assert code == 4
    assert summary is not None
    assert summary["stopped_by"] == "deadline"


def test_sigterm_stops_the_pass_prints_the_summary_and_exits_4(
    table: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    keys = seed(table, drifted=1)
    before = signal.getsignal(signal.SIGTERM)
    sigterm = threading.Thread(target=_sigterm_once_installed, daemon=True)
    sigterm.start()
    code, summary, _ = run_cli(capsys, table, "--settle-seconds", "60")
    sigterm.join(5)
    assert code == 4
    assert summary is not None
    assert (summary["stopped_early"], summary["stopped_by"]) == (True, "SIGTERM")
    assert table.stored(keys[0]) == 0
    assert signal.getsignal(signal.SIGTERM) is before  # the handler is put back


def _sigterm_once_installed() -> None:
    """SIGTERM to this process once ``run`` has put its handler in place (mid-pass)."""
    original = signal.getsignal(signal.SIGTERM)
    deadline = time.monotonic() + 20
    while signal.getsignal(signal.SIGTERM) is original and time.monotonic() < deadline:
        time.sleep(0.01)
    time.sleep(0.3)
    os.kill(os.getpid(), signal.SIGTERM)


def test_an_invalid_deadline_exits_2(table: Table, capsys: pytest.CaptureFixture[str]) -> None:
    code, _, err = run_cli(capsys, table, "--deadline", "soon")
    assert code == 2
    assert "--deadline" in err
