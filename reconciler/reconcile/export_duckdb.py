"""Read a DynamoDB export with DuckDB: one streaming scan of the gzip JSON-lines files.

DuckDB parses and aggregates the files itself, in parallel and within a memory limit, so no
item ever becomes a Python object: what the scan keeps is a few rows per event, a size set by
the number of events, not of attendees. It classifies keys in SQL as
:func:`reconciler.kernel.model.classify` does and leaves the engine-neutral ``joined`` table
that :class:`~reconciler.reconcile.export_rows.SnapshotFold` reads, as it reads the Spark
job's.

Malformed lines (not JSON) are counted, not raised: DuckDB's own error names a line number that
is not reliable, and a count is enough, because the scan's total of items is checked against
the manifest's and any malformed line refuses the snapshot as incomplete.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import duckdb

from reconciler.kernel.model import TableModel
from reconciler.reconcile.export_core import SnapshotRows
from reconciler.reconcile.export_manifest import (
    FILES_NAME,
    SUMMARY_NAME,
    DataFile,
    ExportFormatError,
    ExportSummary,
    Manifest,
    parse_files,
    parse_summary,
    verify,
)
from reconciler.reconcile.export_rows import ScanTally, SnapshotFold, check_totals
from reconciler.reconcile.export_store import read_local_text

_CHUNK = 1 << 20


def _md5(path: Path) -> bytes | None:
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        return None
    return digest.digest()


def read_local_manifests(directory: Path) -> tuple[ExportSummary, tuple[DataFile, ...]]:
    """The two manifests of the export in ``directory``, parsed (not yet verified)."""
    summary = parse_summary(read_local_text(directory / SUMMARY_NAME))
    return summary, parse_files(read_local_text(directory / FILES_NAME))


def load_local_export(directory: Path) -> tuple[Manifest, list[str]]:
    """Verify the export in ``directory`` (``.../AWSDynamoDB/<export-id>``) and return its
    manifest with the paths of its data files, in manifest order."""
    summary, files = read_local_manifests(directory)
    # hashlib releases the GIL on large buffers: one thread per core reads the files at once.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        paths = [f.relative_path for f in files]
        digests = dict(zip(paths, pool.map(lambda p: _md5(directory / p), paths), strict=True))
    manifest = verify(summary, files, digests)
    return manifest, [str(directory / f.relative_path) for f in manifest.files]


def _path(attribute: str, kind: str | None = None) -> str:
    if '"' in attribute:
        raise ExportFormatError(f"attribute name {attribute!r} cannot be read from an export")
    path = f'$.Item."{attribute}"'
    return path if kind is None else f"{path}.{kind}"


_CREATE = """
CREATE TEMP TABLE keyed (
    pk VARCHAR, sk VARCHAR, malformed BOOLEAN, no_sk BOOLEAN, empty_sk BOOLEAN,
    counter VARCHAR, version VARCHAR, n BIGINT
)
"""

# One JSON parse per line for the keys (a multi-path extract), and the lines folded by
# partition key at once: an event's attendees share one, so what is kept is a few rows per
# event. Only an event partition's items keep their sort key and counter attributes.
_SCAN = """
INSERT INTO keyed
WITH lines AS (
    SELECT json AS line, json_extract_string(json, [$pk_path, $sk_path]) AS keys
    FROM read_ndjson_objects($files, compression = 'gzip', ignore_errors = true)
), split AS (
    SELECT line, keys[1] AS pk, keys[2] AS sk, list_contains($partitions, keys[1]) AS evented
    FROM lines
)
SELECT pk,
       CASE WHEN evented THEN sk END,
       line IS NULL,
       sk IS NULL,
       sk = '',
       CASE WHEN evented THEN json_extract(line, $counter_path)::VARCHAR END,
       CASE WHEN evented THEN json_extract(line, $version_path)::VARCHAR END,
       count(*)
FROM split
GROUP BY ALL
"""

_CLASSIFY = """
CREATE TEMP TABLE scanned AS
WITH kinds AS (
    SELECT pk, sk, counter, version, n,
        CASE
            WHEN malformed THEN 'malformed'
            WHEN pk IS NULL OR no_sk THEN 'other'
            WHEN list_contains($partitions, pk)
                 AND strpos(sk, $sep) > 1
                 AND length(sk) > strpos(sk, $sep) + length($sep) - 1 THEN 'event'
            WHEN list_contains($partitions, pk) THEN 'other'
            WHEN suffix(pk, $suffix) AND length(pk) > length($suffix) AND NOT empty_sk
                THEN 'attendee'
            ELSE 'other'
        END AS kind
    FROM keyed
)
SELECT kind,
       CASE kind
           WHEN 'event' THEN split_part(sk, $sep, 1)
           WHEN 'attendee' THEN left(pk, length(pk) - length($suffix))
       END AS slug,
       CASE kind WHEN 'event' THEN pk END AS pk,
       CASE kind WHEN 'event' THEN sk END AS sk,
       CASE kind WHEN 'event' THEN counter END AS counter,
       CASE kind WHEN 'event' THEN version END AS version,
       sum(n)::BIGINT AS n
FROM kinds
GROUP BY ALL
"""

_TOTALS = "SELECT kind, sum(n)::BIGINT FROM scanned GROUP BY kind"

_JOIN = """
CREATE TEMP TABLE joined AS
WITH counts AS (
    SELECT slug, sum(n)::BIGINT AS attendees FROM scanned WHERE kind = 'attendee' GROUP BY slug
)
SELECT coalesce(e.slug, c.slug) AS slug, e.pk, e.sk, e.counter, e.version,
       coalesce(c.attendees, 0) AS attendees
FROM (SELECT * FROM scanned WHERE kind = 'event') AS e
FULL OUTER JOIN counts AS c ON e.slug = c.slug
"""
"""The engine-neutral rows :class:`~reconciler.reconcile.export_rows.SnapshotFold` reads."""


class DuckDbExportReader:
    """Counts attendees per slug and reads every event's counter from one export snapshot.

    ``memory_limit`` bounds DuckDB's own memory (it spills to ``temp_directory`` past it);
    ``threads`` defaults to DuckDB's choice (the machine's cores).
    """

    def __init__(
        self,
        model: TableModel,
        *,
        memory_limit: str = "512MB",
        threads: int | None = None,
        temp_directory: str | None = None,
        event: str | None = None,
        list_in_sync: bool = False,
    ) -> None:
        self._model = model
        self._event = event
        self._list_in_sync = list_in_sync
        self._config: dict[str, Any] = {
            "memory_limit": memory_limit,
            "preserve_insertion_order": False,
        }
        if threads is not None:
            self._config["threads"] = threads
        if temp_directory is not None:
            self._config["temp_directory"] = temp_directory
        self.tally = ScanTally()

    def snapshot(self, files: Sequence[str], manifest: Manifest | None = None) -> SnapshotRows:
        """Every slug with an event item, sorted by slug (those found in sync in SQL counted
        in one :class:`InSyncEvents` first, unless ``list_in_sync``). ``tally`` is complete once the
        iterator is exhausted. With ``manifest``, the items scanned must be the items it
        announces and none may be malformed, else the export is refused as incomplete before
        any row is yielded."""
        return self.snapshot_batches([files], manifest)

    def snapshot_batches(
        self, batches: Iterable[Sequence[str]], manifest: Manifest | None = None
    ) -> SnapshotRows:
        """:meth:`snapshot` over files that become available a batch at a time: each batch is
        scanned (and may be deleted) before the next is asked for, so an export fetched from
        S3 needs local room for one batch only."""
        self.tally = ScanTally()
        model = self._model
        scan = {
            "pk_path": _path(model.pk_attr, "S"),
            "sk_path": _path(model.sk_attr, "S"),
            "partitions": list(model.event_partitions),
            "counter_path": _path(model.counter_attr),
            "version_path": _path(model.version_attr),
        }
        with duckdb.connect(config=self._config) as connection:
            connection.execute(_CREATE)
            for files in batches:
                connection.execute(_SCAN, {**scan, "files": list(files)})
            connection.execute(
                _CLASSIFY,
                {
                    "partitions": list(model.event_partitions),
                    "sep": model.separator,
                    "suffix": model.attendee_suffix,
                },
            )
            totals = {kind: int(count) for kind, count in connection.execute(_TOTALS).fetchall()}
            check_totals(totals, self.tally, manifest)
            connection.execute(_JOIN)
            fold = SnapshotFold(
                model, self.tally, event=self._event, list_in_sync=self._list_in_sync
            )
            yield from fold.read(connection)


class LocalDuckDbExport:
    """A local export directory read by DuckDB: the snapshot source of ``run --from-export``."""

    def __init__(self, directory: Path, model: TableModel, event: str | None = None) -> None:
        self._directory = directory
        self._model = model
        self._event = event

    @property
    def export_id(self) -> str:
        return self._directory.resolve().name

    def open(self) -> tuple[Manifest, SnapshotRows]:
        manifest, paths = load_local_export(self._directory)
        reader = DuckDbExportReader(self._model, event=self._event)
        return manifest, reader.snapshot(paths, manifest)
