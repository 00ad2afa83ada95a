"""``--engine spark`` on an export in S3: the snapshot the job left beside it, read from there.

On AWS the job runs on Glue or EMR Serverless and writes its snapshot table beside the export
(``<export>/reconciler-snapshot/``). That table holds a few rows per event, so it is downloaded
whole, with the two manifests and without a single data file, into a private temporary
directory laid out as the export, and read exactly as a local export's precomputed snapshot is
(:class:`~reconciler.reconcile.export_spark.LocalSparkExport`: the same export, the same table
model, exactly the items the manifest announces). Without such a snapshot the pass fails with
an error saying to run the job first: the reconciler never runs Spark over S3 itself.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from reconciler.reconcile.export_core import InSyncEvents, SnapshotRow, SnapshotRows
from reconciler.reconcile.export_fetch import LocatedExport
from reconciler.reconcile.export_manifest import (
    FILES_NAME,
    SUMMARY_NAME,
    ExportIncompleteError,
    Manifest,
)
from reconciler.reconcile.export_spark import LocalSparkExport, read_totals
from reconciler.reconcile.export_spark_job import SNAPSHOT_DIRECTORY


class StoredSparkSnapshot(LocatedExport):
    """The snapshot source of ``--from-export s3://... --engine spark``."""

    def open(self) -> tuple[Manifest, SnapshotRows]:
        directory = self._located()
        temp = Path(tempfile.mkdtemp(prefix="reconciler-snapshot-", dir=self._temp_root))
        try:
            local = temp / self.export_id
            self._download(directory, local)
            source = LocalSparkExport(local, self._model, event=self._event)
            manifest, rows = source.open()
        except BaseException:
            shutil.rmtree(temp, ignore_errors=True)
            raise
        return manifest, _removing(rows, temp)

    def _download(self, directory: str, local: Path) -> None:
        snapshot = directory + SNAPSHOT_DIRECTORY + "/"
        keys = list(self._store.keys(snapshot))
        for key in [directory + SUMMARY_NAME, directory + FILES_NAME, *keys]:
            target = local / key[len(directory) :]
            target.parent.mkdir(parents=True, exist_ok=True)
            self._store.download(key, target)
        if read_totals(local / SNAPSHOT_DIRECTORY) is None:
            raise ExportIncompleteError(
                f"{self._store.root}{snapshot} holds no completed snapshot of the Spark job: "
                "run the job on Glue or EMR Serverless first (docs/export.md), or read the "
                "export with --engine duckdb"
            )


def _removing(rows: SnapshotRows, temp: Path) -> Iterator[SnapshotRow | InSyncEvents]:
    try:
        yield from rows
    finally:
        shutil.rmtree(temp, ignore_errors=True)


__all__ = ["StoredSparkSnapshot"]
