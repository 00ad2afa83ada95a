"""``--engine spark``: an export counted by the Spark job, its snapshot table read back here.

Two ways to the same table (see :mod:`reconciler.reconcile.export_spark_job`):

- the job already ran on AWS Glue or EMR Serverless and left a completed snapshot beside the
  export (``<export>/reconciler-snapshot``) for this export and this table model: it is read
  as is, and no Spark runs here. The data files' checksums are then not checked again (they
  need not even be here): what is checked is that the job read exactly the items the
  manifest announces, none malformed;
- otherwise the export is verified as for DuckDB (every file present, MD5s matching), and the
  job runs in a local Spark session (``--spark-master``, ``local[*]`` by default) into a
  scratch directory.

Either way the job's rows are the engine-neutral ``joined`` table: DuckDB loads them and
:class:`~reconciler.reconcile.export_rows.SnapshotFold` folds them with the very code that
folds a DuckDB scan, after :func:`~reconciler.reconcile.export_rows.check_totals` has checked
the job's totals against the manifest: the same rows, the same tallies, the same refusal of a
partial export.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import duckdb

from reconciler.kernel.errors import ReconcilerError
from reconciler.kernel.logs import get_logger
from reconciler.kernel.model import TableModel
from reconciler.reconcile.export_core import SnapshotRows
from reconciler.reconcile.export_duckdb import load_local_export, read_local_manifests
from reconciler.reconcile.export_manifest import (
    FILES_NAME,
    SUMMARY_NAME,
    ExportFormatError,
    ExportIncompleteError,
    Manifest,
)
from reconciler.reconcile.export_rows import ScanTally, SnapshotFold, check_totals
from reconciler.reconcile.export_spark_job import (
    FORMAT,
    SNAPSHOT_DIRECTORY,
    TOTALS_DIRECTORY,
    model_arguments,
    model_of,
    parse_arguments,
)
from reconciler.reconcile.settings import DEFAULT_SPARK_MASTER


class SparkJobError(ReconcilerError):
    """Spark could not start (no Java), or the snapshot job failed: nothing was counted."""


def job_arguments(model: TableModel, export: str, output: str | None = None) -> list[str]:
    """The job's command line for ``model``: what a Glue or EMR run is given as well."""
    arguments = ["--export", export]
    for flag, value in model_arguments(model).items():
        arguments += [flag, value]
    return arguments if output is None else [*arguments, "--output", output]


def read_totals(snapshot: Path) -> dict[str, Any] | None:
    """The totals of a completed job run in ``snapshot``, ``None`` when there is none."""
    totals = snapshot / TOTALS_DIRECTORY
    if not (totals / "_SUCCESS").is_file():
        return None
    parts = sorted(totals.glob("part-*"))
    if len(parts) != 1:
        return None
    document = json.loads(parts[0].read_text(encoding="utf-8"))
    return document if isinstance(document, dict) and document.get("format") == FORMAT else None


_JOINED = "CREATE TEMP TABLE joined AS SELECT * FROM read_parquet(?)"


def read_snapshot(
    snapshot: Path, totals: dict[str, Any], fold: SnapshotFold, manifest: Manifest
) -> SnapshotRows:
    """The snapshot rows of a job's run, folded by ``fold`` (whose ``tally`` is then the
    export's), refused as a DuckDB scan of the same export would be."""
    check_totals(dict(totals["items"]), fold.tally, manifest)
    with duckdb.connect() as connection:
        connection.execute(_JOINED, [str(snapshot / str(totals["rows"]) / "*.parquet")])
        yield from fold.read(connection)


class LocalSparkExport:
    """A local export directory counted by the Spark job: the snapshot source of
    ``run --from-export DIR --engine spark``."""

    def __init__(
        self,
        directory: Path,
        model: TableModel,
        *,
        master: str = DEFAULT_SPARK_MASTER,
        event: str | None = None,
    ) -> None:
        self._directory = directory
        self._model = model
        self._master = master
        self._event = event
        self._fold = SnapshotFold(model, ScanTally(), event=event)
        self.precomputed = False
        """Whether the last :meth:`open` read a snapshot the job had left beside the export."""

    @property
    def export_id(self) -> str:
        return self._directory.resolve().name

    @property
    def tally(self) -> ScanTally:
        """Every line of the export by kind, once the rows of :meth:`open` are read."""
        return self._fold.tally

    def open(self) -> tuple[Manifest, SnapshotRows]:
        self._fold = SnapshotFold(self._model, ScanTally(), event=self._event)
        snapshot = self._directory / SNAPSHOT_DIRECTORY
        totals = read_totals(snapshot)
        self.precomputed = totals is not None
        if totals is not None:
            manifest = self._counted_manifest(totals)
            get_logger(__name__).info(
                "export_snapshot_precomputed", export_id=self.export_id, rows=totals["rows"]
            )
            return manifest, read_snapshot(snapshot, totals, self._fold, manifest)
        manifest, _ = load_local_export(self._directory)
        return manifest, self._counted_here(manifest)

    def _counted_manifest(self, totals: dict[str, Any]) -> Manifest:
        """The manifest a precomputed snapshot answers to: the same export, the same model,
        and files listed for exactly the items announced."""
        summary, files = read_local_manifests(self._directory)
        where = f"{SNAPSHOT_DIRECTORY} in {self.export_id}"
        if totals.get("export_id") != self.export_id or totals.get("export_arn") != (
            summary.export_arn
        ):
            raise ExportFormatError(f"{where} was computed for another export: delete it")
        expected = model_of(parse_arguments(job_arguments(self._model, str(self._directory))))
        if totals.get("model") != expected:
            raise ExportFormatError(
                f"{where} was computed with another table model ({totals.get('model')}): "
                "delete it, or run the job again with this model's arguments"
            )
        listed = sum(f.item_count for f in files)
        if listed != summary.item_count or totals.get("manifest_items") != summary.item_count:
            raise ExportIncompleteError(
                f"{FILES_NAME} lists {listed} items, {SUMMARY_NAME} announces "
                f"{summary.item_count}, the snapshot's job read a manifest of "
                f"{totals.get('manifest_items')}"
            )
        return Manifest(summary, files)

    def _counted_here(self, manifest: Manifest) -> SnapshotRows:
        with tempfile.TemporaryDirectory(prefix="reconciler-spark-") as scratch:
            output = Path(scratch) / SNAPSHOT_DIRECTORY
            run_job(self._master, job_arguments(self._model, str(self._directory), str(output)))
            totals = read_totals(output)
            if totals is None:
                raise SparkJobError(f"the Spark job left no totals in {output}")
            yield from read_snapshot(output, totals, self._fold, manifest)


def run_job(master: str, arguments: list[str]) -> None:
    """Run the job in this process's Spark session: the one already running (a test's), or
    a new one on ``master``, stopped at the end."""
    try:
        from pyspark import SparkContext  # noqa: PLC0415 - the optional dependency
        from pyspark.sql import SparkSession  # noqa: PLC0415
    except ModuleNotFoundError as exc:
        raise SparkJobError(
            "--engine spark must run the snapshot job here (the export holds no snapshot of "
            "it), and PySpark is not installed: pip install '.[spark]' (and Java 17 or later)"
        ) from exc

    from reconciler.reconcile import export_spark_job  # noqa: PLC0415

    owned = SparkContext._active_spark_context is None
    try:
        spark = (
            SparkSession.builder.master(master)
            .appName("reconciler-export-snapshot")
            .config("spark.ui.enabled", "false")
            .config("spark.ui.showConsoleProgress", "false")
            .config("spark.sql.shuffle.partitions", "8")
            .getOrCreate()
        )
    except Exception as exc:
        raise SparkJobError(
            f"Spark could not start on {master!r}; it needs Java 17 or later "
            f"(is `java` installed and on PATH?): {_first_line(exc)}"
        ) from exc
    try:
        if owned:
            spark.sparkContext.setLogLevel("ERROR")
        export_spark_job.run(spark, export_spark_job.parse_arguments(arguments))
    except Exception as exc:
        raise SparkJobError(f"the Spark snapshot job failed: {_first_line(exc)}") from exc
    finally:
        if owned:
            spark.stop()


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
