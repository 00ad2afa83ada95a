"""``reconciler run`` as a subprocess: for a script (a pipe, or ``--json``) stdout is exactly one
JSON document and the logs are on stderr; for a person (a terminal) the pass shows its phases
as it goes and ends with a result table."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from typing import Any

import pytest

from reconciler.kernel.model import EventKey
from tests.integration.terminal import ANSI, on_a_terminal
from tests.integration.traffic import Table


@pytest.fixture
def table(clients: Any, table_name: str) -> Table:
    table = Table(clients, table_name)
    for i in range(5):
        key = table.put_event(EventKey("EVENT", f"event-{i:03d}#2024-10-27#conference"), 0)
        if i < 2:
            table.register(key.slug, f"someone-{i}@example.com")
    return table


def environment(table: Table) -> dict[str, str]:
    return {**os.environ, "TABLE_NAME": table.name}


def json_lines(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.startswith("{")]


def test_a_piped_run_prints_one_json_document_and_logs_only_to_stderr(table: Table) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "reconciler", "run", "--once", "--settle-seconds", "0.05"],
        env=environment(table),
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)  # the whole of stdout: one document, nothing else
    assert (summary["events_checked"], summary["corrected"]) == (5, 2)
    events = {line["event"]: line for line in json_lines(result.stderr)}
    assert {"pass_started", "counter_corrected", "pass_finished"} <= set(events)
    finished = events["pass_finished"]
    assert (finished["events_checked"], finished["corrected"]) == (5, 2)
    assert "summary" not in finished
    assert "requests" not in finished  # the figures of a log search, not the whole summary


def test_json_on_a_terminal_still_prints_one_json_document_and_no_progress(table: Table) -> None:
    screen = on_a_terminal(
        ["run", "--once", "--json", "--settle-seconds", "0.05", "--log-format", "json"],
        environment(table),
        stderr_on_terminal=False,
    )
    assert screen.code == 0, screen.stderr
    assert json.loads(screen.terminal)["corrected"] == 2
    assert "pass_finished" in {line["event"] for line in json_lines(screen.stderr)}


def test_on_a_terminal_a_run_shows_its_phases_and_a_result_table(table: Table) -> None:
    screen = on_a_terminal(["run", "--once", "--settle-seconds", "1"], environment(table))
    assert screen.code == 0, screen.terminal
    shown = ANSI.sub("", screen.terminal)
    assert re.search(r"sweep\s.*5/5", shown)
    assert re.search(r"settle 1 s \(2 suspects\)\s.*done", shown)
    assert re.search(r"second looks\s.*2/2", shown)
    assert re.search(r"writes\s.*2/2", shown)
    assert re.search(r"events checked\s*│\s*5", shown)
    assert re.search(r"corrected\s*│\s*2", shown)
    assert "done: 2 counters corrected" in shown
    assert "pass_finished" in shown  # the logs, readable, above the rows
    assert not any(line.lstrip().startswith("{") for line in shown.splitlines())


def test_a_dry_run_on_a_terminal_says_its_corrections_were_only_planned(table: Table) -> None:
    screen = on_a_terminal(
        ["run", "--once", "--dry-run", "--settle-seconds", "0.05"], environment(table)
    )
    assert screen.code == 0, screen.terminal
    shown = ANSI.sub("", screen.terminal)
    assert re.search(r"planned, not written \(dry_run\)\s.*2/2", shown)
    assert "dry run: 2 corrections planned, none written" in shown
    assert "counter_correction_planned" in shown
