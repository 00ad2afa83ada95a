"""The Spark job of ``--engine spark``: an export's snapshot table, for tables past one machine.

This file is shipped alone to AWS Glue 5.0 or EMR Serverless (Spark 3.5, Python 3.11), so it
imports nothing but PySpark and the standard library, and uses no Spark 4 API. The reconciler
runs the same :func:`run` in a local Spark session, then reads the table as it reads one the
job left beside the export.

It counts as the DuckDB reader does (:mod:`reconciler.reconcile.export_duckdb`): each line of
``data/*.json.gz`` is one ``{"Item": {...}}`` in DynamoDB JSON, classified by its keys as
:func:`reconciler.kernel.model.classify` classifies them; the reconciler classifies every row
again with the model itself. Each export file holds whole partitions, but nothing here relies
on it: the attendees of a slug are summed across files.

Output, below ``--output`` (by default ``<export>/reconciler-snapshot``):

- ``rows-<run>/``: Parquet, one row per event item (slug, pk, sk, counter and version as the
  export's raw DynamoDB JSON, attendees of its slug) and one per slug with attendees and no
  event item (pk, sk, counter and version null): the engine-neutral ``joined`` table that
  :class:`reconciler.reconcile.export_rows.SnapshotFold` folds for every engine;
- ``totals/``: one JSON document, written last, so its presence (with Spark's ``_SUCCESS``)
  marks a completed run: the export's id, time and announced item count, the items read per
  kind, the malformed lines, the table model counted with and the name of the rows directory.
"""

from __future__ import annotations

import argparse
import json
import uuid
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from pyspark.sql import Column, DataFrame, SparkSession

# PySpark is imported where it is used: the reconciler reads this module's constants and
# arguments without it (a snapshot the job left beside the export needs no Spark to read).

SNAPSHOT_DIRECTORY = "reconciler-snapshot"
TOTALS_DIRECTORY = "totals"
FORMAT = "reconciler-export-snapshot/1"
COLUMNS = ("slug", "pk", "sk", "counter", "version", "attendees")

_LINE_SCHEMA = "Item MAP<STRING, STRING>, _corrupt_record STRING"
"""Each attribute of an item kept as its raw JSON text (``{"N":"3"}``), as DuckDB reads it."""


def parse_arguments(argv: Sequence[str] | None = None) -> argparse.Namespace:
    """Glue adds arguments of its own (``--JOB_ID``...): unknown ones are ignored."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0], allow_abbrev=False)
    parser.add_argument("--export", required=True, help="the AWSDynamoDB/<export-id> directory")
    parser.add_argument("--output", help=f"default: <export>/{SNAPSHOT_DIRECTORY}")
    parser.add_argument("--pk-attr", default="pk")
    parser.add_argument("--sk-attr", default="sk")
    parser.add_argument("--event-partitions", default="FAD,EVENT", help="comma-separated")
    parser.add_argument("--separator", default="#")
    parser.add_argument("--attendee-suffix", default="#ATTENDEE")
    parser.add_argument("--counter-attr", default="attendeeCount")
    parser.add_argument("--version-attr", default="counterVersion")
    options, _ = parser.parse_known_args(argv)
    options.export = options.export.rstrip("/")
    if options.output is None:
        options.output = f"{options.export}/{SNAPSHOT_DIRECTORY}"
    return options


class TableModelLike(Protocol):
    """The reconciler's ``TableModel``, which this file cannot import (it runs alone)."""

    @property
    def pk_attr(self) -> str: ...
    @property
    def sk_attr(self) -> str: ...
    @property
    def event_partitions(self) -> Sequence[str]: ...
    @property
    def separator(self) -> str: ...
    @property
    def attendee_suffix(self) -> str: ...
    @property
    def counter_attr(self) -> str: ...
    @property
    def version_attr(self) -> str: ...


def model_arguments(model: TableModelLike) -> dict[str, str]:
    """The arguments that give this job ``model``: what the reconciler's local run, a Glue
    job's defaults and an EMR run pass alike (the inverse of :func:`model_of`)."""
    return {
        "--pk-attr": model.pk_attr,
        "--sk-attr": model.sk_attr,
        "--event-partitions": ",".join(model.event_partitions),
        "--separator": model.separator,
        "--attendee-suffix": model.attendee_suffix,
        "--counter-attr": model.counter_attr,
        "--version-attr": model.version_attr,
    }


def model_of(options: argparse.Namespace) -> dict[str, Any]:
    """The table model the counts depend on, recorded with them."""
    return {
        "pk_attr": options.pk_attr,
        "sk_attr": options.sk_attr,
        "event_partitions": [p for p in options.event_partitions.split(",") if p],
        "separator": options.separator,
        "attendee_suffix": options.attendee_suffix,
        "counter_attr": options.counter_attr,
        "version_attr": options.version_attr,
    }


def _kinds(lines: DataFrame, model: dict[str, Any]) -> DataFrame:
    from pyspark.sql import functions as F  # noqa: N812, PLC0415

    item = F.col("Item")
    pk = F.get_json_object(item[model["pk_attr"]], "$.S")
    sk = F.get_json_object(item[model["sk_attr"]], "$.S")
    # A line Spark cannot read as an item: malformed only if it is not JSON at all (a JSON
    # line of another shape is an item of another kind, as DuckDB counts it).
    corrupt = F.col("_corrupt_record")
    malformed = corrupt.isNotNull() & F.get_json_object(corrupt, "$").isNull()
    sep, suffix = model["separator"], model["attendee_suffix"]
    evented = pk.isin(model["event_partitions"])
    at = F.instr(sk, sep)
    kind: Column = (
        F.when(malformed, "malformed")
        .when(pk.isNull() | sk.isNull(), "other")
        .when(evented & (at > 1) & (F.length(sk) > at + len(sep) - 1), "event")
        .when(evented, "other")
        .when(pk.endswith(suffix) & (F.length(pk) > len(suffix)) & (sk != ""), "attendee")
        .otherwise("other")
    )
    keyed = lines.select(
        kind.alias("kind"),
        pk.alias("pk"),
        sk.alias("sk"),
        item[model["counter_attr"]].alias("counter"),
        item[model["version_attr"]].alias("version"),
    )
    event = F.col("kind") == "event"
    return keyed.select(
        "kind",
        F.when(event, F.substring_index("sk", sep, 1))
        .when(
            F.col("kind") == "attendee", F.col("pk").substr(F.lit(1), F.length("pk") - len(suffix))
        )
        .alias("slug"),
        *(F.when(event, F.col(c)).alias(c) for c in ("pk", "sk", "counter", "version")),
    )


def snapshot(lines: DataFrame, model: dict[str, Any]) -> tuple[DataFrame, DataFrame]:
    """The lines grouped by what they are (kept: read once, used twice), and the snapshot
    rows: each event item joined with its slug's attendee count."""
    from pyspark.sql import functions as F  # noqa: N812, PLC0415
    from pyspark.storagelevel import StorageLevel  # noqa: PLC0415

    scanned = (
        _kinds(lines, model)
        .groupBy("kind", "slug", "pk", "sk", "counter", "version")
        .agg(F.count(F.lit(1)).alias("n"))
        .persist(StorageLevel.MEMORY_AND_DISK)
    )
    counts = (
        scanned.where(F.col("kind") == "attendee")
        .groupBy("slug")
        .agg(F.sum("n").cast("bigint").alias("attendees"))
    )
    events = scanned.where(F.col("kind") == "event").select(
        "slug", "pk", "sk", "counter", "version"
    )
    rows = events.join(counts, "slug", "full_outer").select(
        "slug",
        "pk",
        "sk",
        "counter",
        "version",
        F.coalesce("attendees", F.lit(0)).alias("attendees"),
    )
    return scanned, rows


def _read_text(spark: SparkSession, path: str) -> str:
    row = spark.read.text(path, wholetext=True).first()
    if row is None:
        raise ValueError(f"{path} is empty")
    return str(row[0])


def run(spark: SparkSession, options: argparse.Namespace) -> dict[str, Any]:
    """Count one export into ``options.output``; returns the totals document it wrote."""
    from pyspark.sql import functions as F  # noqa: N812, PLC0415

    model = model_of(options)
    summary = json.loads(_read_text(spark, f"{options.export}/manifest-summary.json"))
    lines = (
        spark.read.schema(_LINE_SCHEMA)
        .option("mode", "PERMISSIVE")
        .option("columnNameOfCorruptRecord", "_corrupt_record")
        .json(f"{options.export}/data/*.json.gz")
    )
    scanned, rows = snapshot(lines, model)
    name = f"rows-{uuid.uuid4().hex[:12]}"
    rows.write.mode("overwrite").parquet(f"{options.output}/{name}")
    items = {"event": 0, "attendee": 0, "other": 0, "malformed": 0}
    for kind, count in scanned.groupBy("kind").agg(F.sum("n")).collect():
        items[kind] = int(count)
    scanned.unpersist()
    totals = {
        "format": FORMAT,
        "export_id": options.export.rsplit("/", 1)[-1],
        "export_arn": summary.get("exportArn"),
        "export_time": summary.get("exportTime"),
        "manifest_items": summary.get("itemCount"),
        "items": items,
        "model": model,
        "rows": name,
    }
    document = spark.createDataFrame([(json.dumps(totals),)], "value STRING").coalesce(1)
    document.write.mode("overwrite").text(f"{options.output}/{TOTALS_DIRECTORY}")
    return totals


def main(argv: Sequence[str] | None = None) -> None:
    from pyspark.sql import SparkSession  # noqa: PLC0415

    options = parse_arguments(argv)
    spark = SparkSession.builder.appName("reconciler-export-snapshot").getOrCreate()
    try:
        print(json.dumps(run(spark, options)))
    finally:
        spark.stop()


if __name__ == "__main__":
    main()
