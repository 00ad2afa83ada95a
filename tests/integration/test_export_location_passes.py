"""Scheduled passes on a location of exports, as ``serve --from-export s3://...`` runs them: one
reconciler, each pass reading the newest export; a pass with no newer export checks nothing."""

from __future__ import annotations

import argparse
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.devtools.export_writer import export_table, upload_export
from reconciler.kernel.aws import Clients
from reconciler.kernel.settings import Source
from reconciler.reconcile.bootstrap import build_reconciler
from reconciler.reconcile.settings import add_run_arguments, parse_run_settings
from tests.integration.test_run_from_export import _key, seeded
from tests.integration.traffic import Table

BUCKET = "exports-bucket"


@pytest.fixture
def table(clients: Clients, table_name: str) -> Table:
    return seeded(clients, table_name)


def test_each_pass_reads_the_newest_export_and_a_pass_without_a_newer_one_checks_nothing(
    table: Table, clients: Clients, tmp_path: Path
) -> None:
    clients.s3().create_bucket(Bucket=BUCKET)
    first = export_table(
        tmp_path / "1", table.ddb, table.name, export_time=datetime(2026, 5, 1, tzinfo=UTC)
    )
    upload_export(clients.s3(), first.directory, BUCKET, "exports")
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    argv = ["--from-export", f"s3://{BUCKET}/exports/", "--settle-seconds", "0.1"]
    settings = parse_run_settings(Source(parser.parse_args(argv), {"TABLE_NAME": table.name}))
    reconciler = build_reconciler(settings, clients)
    try:
        passes = [reconciler.run_pass(), reconciler.run_pass()]
        # A newer export arrives (the counters are exact by now: nothing left to correct).
        second = export_table(
            tmp_path / "2",
            table.ddb,
            table.name,
            export_time=datetime(2026, 5, 2, tzinfo=UTC),
            seed=1,
        )
        upload_export(clients.s3(), second.directory, BUCKET, "exports")
        passes.append(reconciler.run_pass())
    finally:
        reconciler.close()
    exports = [summary.export or {} for summary in passes]
    assert [export["id"] for export in exports] == [first.directory.name] * 2 + [
        second.directory.name
    ]
    assert [export.get("unchanged", False) for export in exports] == [False, True, False]
    assert [summary.corrected for summary in passes] == [3, 0, 0]
    assert [summary.events_checked for summary in passes] == [5, 0, 5]
    assert [summary.outcome.value for summary in passes] == ["success"] * 3
    assert table.stored(_key("expo")) == table.true_count("expo") == 2
