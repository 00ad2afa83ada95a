"""``reconciler run --once --from-export DIR`` on a moto server: the first look from an export
of the live table, the second look live, corrections only where the two agree."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import pytest

from reconciler.cli import main
from reconciler.devtools.export_writer import export_table
from reconciler.kernel.aws import Clients
from reconciler.kernel.model import EventKey
from tests.integration.traffic import Table

# (slug, stored counter, attendees): ``None`` stores no counter at all.
SEEDED = [("gala", 3, 3), ("expo", 5, 2), ("talk", None, 1), ("meetup", 0, 4), ("quiet", 0, 0)]


def _key(slug: str) -> EventKey:
    return EventKey("FAD", f"{slug}#2026-06-01")


@pytest.fixture
def table(clients: Clients, table_name: str) -> Table:
    return seeded(clients, table_name)


def seeded(clients: Clients, table_name: str) -> Table:
    """The events of ``SEEDED`` with their attendees (shared by the S3 and ``new`` tests)."""
    table = Table(clients, table_name)
    for slug, counter, attendees in SEEDED:
        table.put_event(_key(slug), counter)
        for number in range(attendees):
            table.register(slug, f"guest{number}@example.test")
    return table


def _run(capsys: pytest.CaptureFixture[str], table: Table, *args: str) -> tuple[int, Any, str]:
    environment = {**os.environ, "TABLE_NAME": table.name}
    code = main(
        ["run", "--once", "--settle-seconds", "0.1", "--log-format", "json", *args], environment
    )
    captured = capsys.readouterr()
    return code, json.loads(captured.out), captured.err


ENGINES = [
    pytest.param(["--engine", "duckdb"], id="duckdb"),
    # Its job runs in the tests' own local Spark session (see the ``spark`` fixture).
    pytest.param(
        ["--engine", "spark", "--spark-master", "local[2]"],
        id="spark",
        marks=pytest.mark.xdist_group("spark"),
    ),
]


@pytest.mark.parametrize("engine", ENGINES)
def test_a_pass_from_an_export_corrects_exactly_the_drift_the_live_table_still_shows(
    table: Table,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    engine: list[str],
    request: pytest.FixtureRequest,
) -> None:
    if "spark" in engine:
        request.getfixturevalue("spark")
    export = export_table(tmp_path, table.ddb, table.name, files=2)
    assert export.drifted == {"expo", "talk", "meetup"}
    # After the export: a registration on "meetup", its counter updated as the handler does.
    table.register("meetup", "late@example.test")
    table.ddb.update_item(
        TableName=table.name,
        Key={"pk": {"S": "FAD"}, "sk": {"S": "meetup#2026-06-01"}},
        UpdateExpression="ADD attendeeCount :one, counterVersion :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )
    code, summary, _ = _run(capsys, table, "--from-export", str(export.directory), *engine)
    assert code == 0
    assert summary["sweep"] == "export"
    assert summary["export"] == {
        "id": export.directory.name,
        "time": export.export_time.isoformat(timespec="milliseconds"),
        "items": export.items,
        "events": 5,
        "suspects": 3,
    }
    assert (summary["corrected"], summary["in_flux"], summary["in_sync"]) == (2, 1, 2)
    assert table.stored(_key("expo")) == table.true_count("expo") == 2
    assert table.stored(_key("talk")) == table.true_count("talk") == 1
    assert table.stored(_key("meetup")) == 1  # in flux: left to the next pass
    assert table.stored(_key("gala")) == 3
    # The sweep read nothing. Per suspect: is its ledger backfilled (state table), then the
    # live look (counter, then attendees); and the two writes.
    assert summary["requests"] == {"GetItem": 3 + 3, "Query": 3, "UpdateItem": 2}


def test_an_export_refused_as_partial_fails_the_pass_and_writes_nothing(
    table: Table, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = export_table(tmp_path, table.ddb, table.name, files=2)
    next(export.directory.glob("data/*.json.gz")).unlink()
    code, summary, err = _run(capsys, table, "--from-export", str(export.directory))
    assert code == 1
    assert summary["failed"] is True
    assert "Export" in summary["error"]
    assert table.stored(_key("expo")) == 5
    assert "failed" in err


def test_a_dry_run_from_an_export_plans_the_agreeing_corrections_and_writes_none(
    table: Table, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = export_table(tmp_path, table.ddb, table.name, files=2)
    code, summary, _ = _run(capsys, table, "--from-export", str(export.directory), "--dry-run")
    assert code == 0
    assert (summary["confirmed"], summary["planned"], summary["corrected"]) == (3, 3, 0)
    assert table.stored(_key("expo")) == 5


@pytest.mark.parametrize(
    ("event", "expected"),
    [("expo", {"in_sync": 0, "corrected": 1}), ("gala", {"in_sync": 1, "corrected": 0})],
)
def test_one_event_of_an_export_is_all_the_pass_checks(
    table: Table,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    event: str,
    expected: dict[str, int],
) -> None:
    # GIVEN an export of a table with three drifted events ("gala" is in sync)
    export = export_table(tmp_path, table.ddb, table.name, files=2)
    # WHEN one pass reads it for one event
    code, summary, _ = _run(capsys, table, "--from-export", str(export.directory), "--event", event)
    # THEN that event alone is checked (counted in sync by the engine, or judged and fixed)
    assert code == 0
    assert summary["events_checked"] == 1
    assert {key: summary[key] for key in expected} == expected
    assert summary["requests"].get("UpdateItem", 0) == expected["corrected"]
    assert "attendeeCount" not in table.item(_key("talk"))  # another drifted event: untouched
