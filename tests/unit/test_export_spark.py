"""The Spark job's contract with the reconciler and with Glue, checked without a JVM."""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import pytest

from reconciler.devtools.export_writer import ExportSpec, generate_export
from reconciler.kernel.model import TableModel
from reconciler.reconcile import export_spark_job
from reconciler.reconcile.export_spark import (
    SNAPSHOT_DIRECTORY,
    LocalSparkExport,
    SparkJobError,
    job_arguments,
)
from reconciler.reconcile.export_spark_job import model_of, parse_arguments

MODEL = TableModel(
    pk_attr="PK",
    sk_attr="SK",
    event_partitions=("CONF", "TALK"),
    attendee_suffix="|GUEST",
    separator="|",
    counter_attr="guests",
    version_attr="rev",
)


def test_the_job_file_imports_only_pyspark_and_the_standard_library() -> None:
    tree = ast.parse(Path(export_spark_job.__file__).read_text(encoding="utf-8"))
    imported = {
        (node.module or "").split(".")[0] if isinstance(node, ast.ImportFrom) else alias.name
        for node in ast.walk(tree)
        if isinstance(node, ast.Import | ast.ImportFrom)
        for alias in node.names
    }
    assert imported - {"pyspark"} <= set(sys.stdlib_module_names) | {"__future__"}
    assert "pyspark" in imported


def test_the_job_is_given_the_table_model_it_counts_with() -> None:
    options = parse_arguments(job_arguments(MODEL, "s3://b/p/AWSDynamoDB/0123-ab/"))
    assert model_of(options) == {
        "pk_attr": "PK",
        "sk_attr": "SK",
        "event_partitions": ["CONF", "TALK"],
        "separator": "|",
        "attendee_suffix": "|GUEST",
        "counter_attr": "guests",
        "version_attr": "rev",
    }


def test_the_job_writes_beside_the_export_unless_told_and_ignores_glues_own_arguments() -> None:
    glue = ["--JOB_ID", "j_1", "--JOB_RUN_ID", "jr_1", "--TempDir", "s3://t/"]
    options = parse_arguments(["--export", "s3://b/AWSDynamoDB/0123-ab/", *glue])
    assert options.export == "s3://b/AWSDynamoDB/0123-ab"
    assert options.output == f"s3://b/AWSDynamoDB/0123-ab/{SNAPSHOT_DIRECTORY}"
    assert parse_arguments(["--export", "e", "--output", "o"]).output == "o"


def test_without_pyspark_an_export_with_no_snapshot_names_the_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    generated = generate_export(tmp_path, ExportSpec(events=2, attendees_per_event=1, files=1))
    monkeypatch.setitem(sys.modules, "pyspark", None)
    _, rows = LocalSparkExport(generated.directory, TableModel()).open()
    with pytest.raises(SparkJobError, match=r"PySpark is not installed: pip install '\.\[spark\]'"):
        next(rows)
