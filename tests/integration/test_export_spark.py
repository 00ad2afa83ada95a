"""The Spark job counts an export exactly as DuckDB does, on real files in local mode."""

from __future__ import annotations

import gzip
import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

from reconciler.devtools.export_writer import (
    ExportSpec,
    generate_export,
    upload_export,
    write_items,
)
from reconciler.kernel.aws import Clients
from reconciler.kernel.model import TableModel
from reconciler.reconcile.export_core import (
    InSyncEvents,
    SnapshotRow,
    SnapshotTally,
    suspects,
)
from reconciler.reconcile.export_duckdb import DuckDbExportReader, load_local_export
from reconciler.reconcile.export_fetch import fixed
from reconciler.reconcile.export_manifest import ExportFormatError, ExportIncompleteError
from reconciler.reconcile.export_rows import ScanTally, SnapshotFold
from reconciler.reconcile.export_spark import (
    SNAPSHOT_DIRECTORY,
    LocalSparkExport,
    job_arguments,
    read_snapshot,
    read_totals,
    run_job,
)
from reconciler.reconcile.export_spark_s3 import StoredSparkSnapshot
from reconciler.reconcile.export_store import S3ExportStore
from tests.unit.test_export_duckdb import _attendees, _event
from tests.unit.test_export_spark import MODEL as CUSTOM

pytestmark = [pytest.mark.xdist_group("spark"), pytest.mark.usefixtures("spark")]

MODEL = TableModel()
MASTER = "local[2]"


EDGES = [
    _event("expo", {"N": "1"}),
    _event("expo", {"N": "1"}, "EVENT"),  # ambiguous: two event items
    *_attendees("expo", 1),
    *_attendees("ghost", 3),  # attendees without an event item
    _event("words", {"S": "3"}, counterVersion={"N": "2"}),  # a counter that is no number
    *_attendees("words", 3),
    _event("bare", None),  # no counter at all
    *_attendees("bare", 1),
    _event("odd", {"N": "0"}, counterVersion={"S": "x"}),  # an unreadable version
    # Neither events nor attendees: keys of another type, missing, or not of either shape.
    {"pk": {"S": "_RECONCILER"}, "sk": {"S": "lease"}},
    {"pk": {"N": "1"}, "sk": {"S": "gala#x"}},
    {"pk": {"S": "FAD"}},
    *(
        {"pk": {"S": pk}, "sk": {"S": sk}}
        for pk, sk in [
            ("EVENT", "gala"),
            ("FAD", "#2026"),
            ("a#b#ATTENDEE", "x"),
            ("gala#ATTENDEE", ""),
            ("\tgala#ATTENDEE", "x"),
        ]
    ),
]


def _drifting(events: int) -> list[dict[str, Any]]:
    """Every seventh event's counter one too high, every eleventh one too low."""
    items: list[dict[str, Any]] = []
    for number in range(events):
        slug, attendees = f"ev{number:03d}", number % 5
        stored = attendees + (number % 7 == 0) - (number % 11 == 0 and attendees > 0)
        items.append(_event(slug, {"N": str(stored)}, counterVersion={"N": str(number)}))
        items.extend(_attendees(slug, attendees))
    return items


Rows = list[SnapshotRow | InSyncEvents]


def _listed(rows: Rows) -> list[SnapshotRow]:
    return [row for row in rows if isinstance(row, SnapshotRow)]


def _duckdb(directory: Path, model: TableModel = MODEL) -> tuple[Rows, ScanTally]:
    manifest, paths = load_local_export(directory)
    reader = DuckDbExportReader(model, threads=2)
    return list(reader.snapshot(paths, manifest)), reader.tally


def _spark(directory: Path, model: TableModel = MODEL) -> tuple[Rows, ScanTally]:
    source = LocalSparkExport(directory, model, master=MASTER)
    _, rows = source.open()
    return list(rows), source.tally


def test_both_engines_give_the_same_rows_and_tallies_and_find_exactly_the_drift(
    tmp_path: Path,
) -> None:
    directory, _, _ = write_items(tmp_path, [*_drifting(60), *EDGES], model=MODEL, files=4)
    spark_rows, spark_tally = _spark(directory)
    duckdb_rows, duckdb_tally = _duckdb(directory)
    assert spark_rows == duckdb_rows
    assert spark_tally == duckdb_tally
    expected = {f"ev{n:03d}" for n in range(60) if n % 7 == 0 or (n % 11 == 0 and n % 5)}
    found = {suspect.row.slug for suspect in suspects(spark_rows, SnapshotTally())}
    assert found == expected | {"words", "bare", "odd"}
    assert [row.slug for row in _listed(spark_rows) if row.ambiguous] == ["expo"]
    assert "ghost" not in {row.slug for row in _listed(spark_rows)}
    assert spark_rows[0] == InSyncEvents(60 - len(expected))
    assert (spark_tally.orphan_attendees, spark_tally.other, spark_tally.malformed) == (3, 8, 0)


def test_a_custom_table_model_is_counted_alike_by_both_engines(tmp_path: Path) -> None:
    model = CUSTOM
    spec = ExportSpec(events=30, attendees_per_event=3, drift_percent=25, files=3, seed=11)
    generated = generate_export(tmp_path, spec, model)
    rows, tally = _spark(generated.directory, model)
    assert {row.slug: row.counted for row in _listed(rows)}.items() <= generated.counts.items()
    assert tally.events == len(generated.counts)
    assert {s.row.slug for s in suspects(rows, SnapshotTally())} == generated.drifted
    assert (rows, tally) == _duckdb(generated.directory, model)


def test_a_malformed_line_is_counted_by_the_job_and_refuses_the_export(tmp_path: Path) -> None:
    generated = generate_export(tmp_path, ExportSpec(events=3, attendees_per_event=2, files=2))
    manifest, paths = load_local_export(generated.directory)
    with gzip.open(paths[0], "at", encoding="utf-8") as stream:
        stream.write('{not json\n\n[1]\n{"Item": 5}\n')
    output = tmp_path / "snapshot"
    run_job(MASTER, job_arguments(MODEL, str(generated.directory), str(output)))
    totals = read_totals(output)
    assert totals is not None
    assert totals["items"] == {"event": 3, "attendee": 6, "other": 2, "malformed": 1}
    fold = SnapshotFold(MODEL, ScanTally())
    with pytest.raises(ExportIncompleteError, match="1 malformed"):
        list(read_snapshot(output, totals, fold, manifest))
    assert fold.tally.malformed == 1


def test_a_snapshot_the_job_left_beside_the_export_is_read_without_spark_or_data_files(
    tmp_path: Path,
) -> None:
    directory, _, _ = write_items(tmp_path, [*_drifting(20), *EDGES], model=MODEL, files=3)
    expected = _duckdb(directory)
    # As on Glue: the job's own default output, beside the export.
    run_job(MASTER, job_arguments(MODEL, str(directory)))
    shutil.rmtree(directory / "data")
    source = LocalSparkExport(directory, MODEL, master="spark://nowhere:7077")
    manifest, rows = source.open()
    assert (list(rows), source.tally) == expected
    assert source.precomputed
    assert manifest.summary.item_count == expected[1].items


def test_a_snapshot_left_for_another_table_model_is_refused(tmp_path: Path) -> None:
    generated = generate_export(tmp_path, ExportSpec(events=4, attendees_per_event=1, files=1))
    other = TableModel(counter_attr="guests")
    run_job(MASTER, job_arguments(other, str(generated.directory)))
    assert (generated.directory / SNAPSHOT_DIRECTORY / "totals" / "_SUCCESS").is_file()
    with pytest.raises(ExportFormatError, match="another table model"):
        LocalSparkExport(generated.directory, MODEL).open()


def test_without_java_the_engine_says_spark_needs_it(tmp_path: Path) -> None:
    generated = generate_export(tmp_path, ExportSpec(events=2, attendees_per_event=1, files=1))
    # A process of its own: this one's JVM is already running.
    script = (
        "import sys\n"
        "from pathlib import Path\n"
        "from reconciler.kernel.model import TableModel\n"
        "from reconciler.reconcile.export_spark import LocalSparkExport, SparkJobError\n"
        "_, rows = LocalSparkExport(Path(sys.argv[1]), TableModel(), master='local[1]').open()\n"
        "try:\n"
        "    list(rows)\n"
        "except SparkJobError as exc:\n"
        "    print(exc)\n"
    )
    environment = {**os.environ, "JAVA_HOME": str(tmp_path / "no-java")}
    result = subprocess.run(
        [sys.executable, "-c", script, str(generated.directory)],
        env=environment,
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    )
    assert "needs Java 17 or later" in result.stdout


def test_a_snapshot_the_job_left_beside_an_export_in_s3_is_read_from_there(
    tmp_path: Path, clients: Clients
) -> None:
    # GIVEN an export in S3 with the snapshot the job wrote beside it (as on Glue)
    directory, _, _ = write_items(tmp_path, [*_drifting(20), *EDGES], model=MODEL, files=3)
    expected = _duckdb(directory)
    run_job(MASTER, job_arguments(MODEL, str(directory)))
    s3 = clients.s3()
    s3.create_bucket(Bucket="exports-with-snapshots")
    uri = upload_export(s3, directory, "exports-with-snapshots", "ddb")
    store = S3ExportStore(s3, "exports-with-snapshots")
    key = uri.removeprefix("s3://exports-with-snapshots/")
    # WHEN the Spark engine reads it from S3 THEN the rows are DuckDB's, no Spark run needed
    source = StoredSparkSnapshot(store, fixed(key), MODEL, temp_root=tmp_path)
    manifest, rows = source.open()
    assert (list(rows), manifest.summary.item_count) == (expected[0], expected[1].items)
    assert source.export_id == directory.name
    assert [p.name for p in tmp_path.iterdir() if p.name.startswith("reconciler-")] == []


def test_an_export_in_s3_without_the_jobs_snapshot_says_to_run_the_job(
    tmp_path: Path, clients: Clients
) -> None:
    generated = generate_export(tmp_path, ExportSpec(events=3, attendees_per_event=1, files=1))
    s3 = clients.s3()
    s3.create_bucket(Bucket="exports-without-snapshots")
    uri = upload_export(s3, generated.directory, "exports-without-snapshots")
    store = S3ExportStore(s3, "exports-without-snapshots")
    source = StoredSparkSnapshot(
        store, fixed(uri.removeprefix("s3://exports-without-snapshots/")), MODEL
    )
    with pytest.raises(ExportIncompleteError, match="run the job on Glue or EMR Serverless"):
        source.open()
