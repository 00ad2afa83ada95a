"""Spark local mode on a generated export: wall time of ``--engine spark``, for correctness
checks at scale, not speed (the issue's speed targets are DuckDB's).

    python -m benchmarks.export_spark --items 1000000 --master 'local[2]'

Generates the export as ``benchmarks.export`` does (``cached_export``, not timed), starts a
Spark session (timed apart: a JVM's start), then verifies and counts the export through
:class:`~reconciler.reconcile.export_spark.LocalSparkExport` (the job, then the snapshot table
read back), and counts it again with DuckDB to check both find the same suspects. Not part of
``make bench``.
"""

from __future__ import annotations

import argparse
import json
import tempfile
import time
from pathlib import Path

from benchmarks.export import cached_export, measure
from reconciler.kernel.model import TableModel
from reconciler.reconcile.export_core import SnapshotTally, suspects
from reconciler.reconcile.export_spark import LocalSparkExport


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--items", type=int, default=1_000_000)
    parser.add_argument("--attendees", type=int, default=50)
    parser.add_argument("--master", default="local[2]")
    parser.add_argument("--cache", type=Path, default=None, help="where exports are kept")
    args = parser.parse_args(argv)
    cache = args.cache or Path(tempfile.mkdtemp(prefix="export-bench-"))
    directory = cached_export(cache, args.items, args.attendees, 1.0)
    from pyspark.sql import SparkSession  # noqa: PLC0415 - after the generation

    started = time.perf_counter()
    spark = (
        SparkSession.builder.master(args.master)
        .config("spark.ui.enabled", "false")
        .config("spark.ui.showConsoleProgress", "false")
        .config("spark.sql.shuffle.partitions", "8")
        .getOrCreate()
    )
    spark.sparkContext.setLogLevel("ERROR")
    session = time.perf_counter()
    try:
        source = LocalSparkExport(directory, TableModel(), master=args.master)
        manifest, rows = source.open()
        tally = SnapshotTally()
        found = sum(1 for _ in suspects(rows, tally))
        counted = time.perf_counter()
    finally:
        spark.stop()
    duckdb = measure(directory)
    items = manifest.summary.item_count
    print(
        json.dumps(
            {
                "items": items,
                "events": tally.events,
                "suspects": found,
                "master": args.master,
                "session_seconds": round(session - started, 1),
                "spark_seconds": round(counted - session, 1),
                "spark_items_per_second": round(items / (counted - session)),
                "duckdb_seconds": duckdb["seconds"],
                "same_as_duckdb": (duckdb["events"], duckdb["suspects"]) == (tally.events, found),
            }
        )
    )


if __name__ == "__main__":
    main()
