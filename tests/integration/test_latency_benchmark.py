"""The latency benchmark at a tiny size, so that it cannot rot between the runs that fill
docs/benchmarks.md, and dynalite's delay mode answering as dynalite does. No time is asserted:
speed targets live in the benchmark's own table."""

from __future__ import annotations

import argparse
import re
import uuid
from pathlib import Path

import pytest

from benchmarks.latency import END, START, main, scenario_label
from benchmarks.run import local_clients
from benchmarks.scenarios import ALL_SCENARIOS
from reconciler.devtools.dynalite import Dynalite
from reconciler.devtools.local_table import create_table

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dynalite")]

TINY = [
    *("--events", "20", "--attendees", "3", "--delay-ms", "1", "--drift-percent", "10"),
    *("--small-events", "30", "--small-attendees", "2"),
]


def main_args() -> argparse.Namespace:
    """The arguments ``TINY`` stands for, as the benchmark's labels read them."""
    return argparse.Namespace(
        concurrency=16, drift_percent=10.0, small_events=30, small_attendees=2
    )


def corrected_by_scenario(table: str) -> dict[str, int]:
    """The last column of each scenario's row, keyed by scenario name."""
    found: dict[str, int] = {}
    for scenario in ALL_SCENARIOS:
        label = scenario_label(scenario, main_args())
        row = next(line for line in table.splitlines() if line.startswith(f"| {label} |"))
        found[scenario.name] = int(re.findall(r"\| ([\d,]+) \|$", row)[0].replace(",", ""))
    return found


def test_the_latency_benchmark_reports_every_scenario_and_keeps_the_pages_prose(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
):
    page = tmp_path / "benchmarks.md"
    page.write_text(f"# Benchmarks\n\nWritten by hand.\n\n{START}\nlast run\n{END}\n\nAfter.\n")

    assert main([*TINY, "--markdown", str(page)]) == 0

    printed = capsys.readouterr().out
    assert corrected_by_scenario(printed) == {
        "floor": 0,
        "dry_run": 2,
        "dry_run_scan": 2,
        "naive": 20,
        "writing": 20,
        "protocol": 20,
        "ledger_writing": 20,
        "small_query": 0,
        "small_scan": 0,
    }
    written = page.read_text()
    assert written.startswith("# Benchmarks\n\nWritten by hand.\n\n")
    assert written.endswith("\n\nAfter.\n")
    assert "last run" not in written
    assert corrected_by_scenario(written) == corrected_by_scenario(printed)


def test_delayed_dynalite_still_answers_every_request_correctly():
    with Dynalite(delay_ms=2) as server:
        ddb = local_clients(server.endpoint).dynamodb()
        table = f"delayed-{uuid.uuid4().hex[:8]}"
        create_table(ddb, table)
        items = [
            {"PutRequest": {"Item": {"pk": {"S": "e#ATTENDEE"}, "sk": {"S": f"a{i:02d}"}}}}
            for i in range(25)
        ]
        ddb.batch_write_item(RequestItems={table: items})
        count = ddb.query(
            TableName=table,
            KeyConditionExpression="pk = :pk",
            ExpressionAttributeValues={":pk": {"S": "e#ATTENDEE"}},
            Select="COUNT",
            ConsistentRead=True,
        )
    assert server.delay_ms == 2
    assert count["Count"] == 25


def test_a_negative_delay_is_refused_before_anything_starts():
    with pytest.raises(ValueError, match="must not be negative"):
        Dynalite(delay_ms=-1)
