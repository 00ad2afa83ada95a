"""``reconciler serve`` as a real process against a moto server: signals, failures, readiness."""

from __future__ import annotations

import logging
import signal
import socket
import time

import pytest
import requests
from prometheus_client.parser import text_string_to_metric_families

from reconciler.cli import main
from tests.integration.serve_support import ServeProcess, seed, stored_count, wait_for

pytestmark = pytest.mark.slow


def metric(url: str, name: str, **labels: str) -> float | None:
    text = requests.get(f"{url}/metrics", timeout=5).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return None


def test_sigterm_mid_pass_exits_zero_within_the_shutdown_timeout_and_writes_nothing(
    aws, clients, table_name, tmp_path
):
    # GIVEN a drifted event, and a pass waiting out a long settle window before its recheck
    seeded = seed(clients, table_name, events=3, drifted=1)
    serve = ServeProcess(
        aws,
        table_name,
        [
            "--every",
            "1h",
            "--run-at-start",
            "--settle-seconds",
            "60",
            "--no-lease",
            "--shutdown-timeout",
            "5s",
        ],
        tmp_path / "serve.log",
    )
    try:
        serve.wait_ready()
        wait_for(lambda: serve.events("counter_suspect"), 15, what="the first look")
        # WHEN the orchestrator sends SIGTERM mid-pass
        started = time.monotonic()
        serve.signal(signal.SIGTERM)
        code = serve.wait(timeout=10)
        elapsed = time.monotonic() - started
    finally:
        serve.stop()
    # THEN it exits 0 within the shutdown timeout
    assert code == 0, serve.log_path.read_text()
    assert elapsed < 5
    # AND the pass stopped between events: no correction was half-applied or applied at all
    assert stored_count(clients, table_name, seeded.drifted[0]) == seeded.attendees_per_event + 1
    assert [e["outcome"] for e in serve.events("scheduled_pass_finished")] == ["aborted"]
    assert serve.events("shutdown_complete")


def test_a_second_signal_exits_at_once(aws, clients, table_name, tmp_path):
    seed(clients, table_name, events=2, drifted=1)
    serve = ServeProcess(
        aws,
        table_name,
        ["--every", "1h", "--run-at-start", "--settle-seconds", "60", "--no-lease"],
        tmp_path / "serve.log",
    )
    try:
        serve.wait_ready()
        wait_for(lambda: serve.events("counter_suspect"), 15, what="the first look")
        serve.signal(signal.SIGTERM)
        time.sleep(0.01)
        serve.signal(signal.SIGINT)
        code = serve.wait(timeout=5)
    finally:
        serve.stop()
    # whichever handler Python ran second saw a stop already requested and exited at once
    assert code in (128 + signal.SIGINT, 128 + signal.SIGTERM)
    assert not serve.events("shutdown_complete")


def test_failing_passes_never_kill_the_process_and_make_it_unready(aws, tmp_path):
    # GIVEN a table that does not exist: every pass fails
    serve = ServeProcess(
        aws,
        "no-such-table",
        [
            "--every",
            "300ms",
            "--run-at-start",
            "--no-lease",
            "--max-consecutive-failures",
            "1",
            "--aws-max-attempts",
            "1",
        ],
        tmp_path / "serve.log",
    )
    try:
        serve.wait_ready()

        def failed_twice() -> bool:
            value = metric(serve.url, "reconciler_runs_total", outcome="failure")
            return value is not None and value >= 2

        wait_for(failed_twice, 15, what="two failed passes")
        # THEN the process is still serving, reports the failures and is not ready
        assert serve.process.poll() is None
        readyz = requests.get(f"{serve.url}/readyz", timeout=5)
        assert readyz.status_code == 503
        assert readyz.json()["consecutive_failures"] >= 2
        assert metric(serve.url, "reconciler_last_success_timestamp_seconds") == 0
        serve.signal(signal.SIGTERM)
        assert serve.wait(timeout=10) == 0
    finally:
        serve.stop()


def test_invalid_settings_exit_2_with_one_line_naming_the_setting(capsys):
    code = main(["serve", "--every", "soon"], {"TABLE_NAME": "t"})
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "--every" in err


def test_no_aws_region_exits_2_with_one_line_naming_the_setting(capsys, monkeypatch):
    monkeypatch.delenv("AWS_DEFAULT_REGION", raising=False)
    monkeypatch.delenv("AWS_REGION", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", "/nonexistent")
    code = main(["serve", "--no-lease", "--port", "0", "--bind", "127.0.0.1"], {"TABLE_NAME": "t"})
    assert code == 2
    err = capsys.readouterr().err.strip()
    assert len(err.splitlines()) == 1
    assert "AWS_REGION" in err


@pytest.fixture
def restore_logging():  # type: ignore[no-untyped-def]
    """main() configures the root logger onto the captured stderr; put it back afterwards."""
    root = logging.getLogger()
    handlers, level = root.handlers[:], root.level
    yield
    root.handlers[:] = handlers
    root.setLevel(level)


def test_a_port_in_use_exits_1_with_one_line(aws, capsys, restore_logging):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        code = main(
            ["serve", "--port", str(port), "--bind", "127.0.0.1", "--no-lease"],
            {"TABLE_NAME": "t"},
        )
    assert code == 1
    err = capsys.readouterr().err.strip()
    assert err.startswith("reconciler serve: cannot start:")
    assert len(err.splitlines()) == 1
