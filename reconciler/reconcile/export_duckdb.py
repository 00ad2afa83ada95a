"""Read a DynamoDB export with DuckDB: one streaming scan of the gzip JSON-lines files.

DuckDB parses and aggregates the files itself, in parallel and within a memory limit, so no
item ever becomes a Python object: what comes back is one row per event item and one per slug
with attendees, a size set by the number of events, not of attendees. The scan classifies keys
in SQL as :func:`reconciler.kernel.model.classify` does, and every row that comes back is
classified again in Python with the model itself, so the two can never disagree on a slug.

Malformed lines (not JSON) are counted, not raised: DuckDB's own error names a line number that
is not reliable, and a count is enough, because the scan's total of items is checked against
the manifest's and any malformed line refuses the snapshot as incomplete.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import Any

import duckdb

from reconciler.kernel.model import TableModel
from reconciler.reconcile.export_core import SnapshotRow
from reconciler.reconcile.export_manifest import (
    FILES_NAME,
    SUMMARY_NAME,
    ExportFormatError,
    Manifest,
    parse_files,
    parse_summary,
    verify,
)
from reconciler.reconcile.export_rows import ScanTally, SnapshotFold, check_totals, fetched

_CHUNK = 1 << 20


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


def _md5(path: Path) -> bytes | None:
    digest = hashlib.md5(usedforsecurity=False)
    try:
        with path.open("rb") as stream:
            while chunk := stream.read(_CHUNK):
                digest.update(chunk)
    except FileNotFoundError:
        return None
    return digest.digest()


def load_local_export(directory: Path) -> tuple[Manifest, list[str]]:
    """Verify the export in ``directory`` (``.../AWSDynamoDB/<export-id>``) and return its
    manifest with the paths of its data files, in manifest order."""
    summary = parse_summary(_read_text(directory / SUMMARY_NAME))
    files = parse_files(_read_text(directory / FILES_NAME))
    digests = {f.relative_path: _md5(directory / f.relative_path) for f in files}
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

_ROWS = """
WITH counts AS (
    SELECT slug, sum(n)::BIGINT AS attendees FROM scanned WHERE kind = 'attendee' GROUP BY slug
)
SELECT coalesce(e.slug, c.slug) AS slug, e.pk, e.sk, e.counter, e.version,
       coalesce(c.attendees, 0) AS attendees
FROM (SELECT * FROM scanned WHERE kind = 'event') AS e
FULL OUTER JOIN counts AS c ON e.slug = c.slug
ORDER BY slug, e.pk NULLS LAST, e.sk NULLS LAST
"""


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
    ) -> None:
        self._model = model
        self._config: dict[str, Any] = {
            "memory_limit": memory_limit,
            "preserve_insertion_order": False,
        }
        if threads is not None:
            self._config["threads"] = threads
        if temp_directory is not None:
            self._config["temp_directory"] = temp_directory
        self.tally = ScanTally()

    def snapshot(
        self, files: Sequence[str], manifest: Manifest | None = None
    ) -> Iterator[SnapshotRow]:
        """Every slug with an event item, sorted by slug. ``tally`` is complete once the
        iterator is exhausted. With ``manifest``, the items scanned must be the items it
        announces and none may be malformed, else the export is refused as incomplete before
        any row is yielded."""
        return self.snapshot_batches([files], manifest)

    def snapshot_batches(
        self, batches: Iterable[Sequence[str]], manifest: Manifest | None = None
    ) -> Iterator[SnapshotRow]:
        """:meth:`snapshot` over files that become available a batch at a time: each batch is
        scanned (and may be deleted) before the next is asked for, so an export fetched from
        S3 needs local room for one batch only."""
        self.tally = ScanTally()
        model = self._model
        with duckdb.connect(config=self._config) as connection:
            connection.execute(_CREATE)
            for files in batches:
                connection.execute(
                    _SCAN,
                    {
                        "files": list(files),
                        "pk_path": _path(model.pk_attr, "S"),
                        "sk_path": _path(model.sk_attr, "S"),
                        "partitions": list(model.event_partitions),
                        "counter_path": _path(model.counter_attr),
                        "version_path": _path(model.version_attr),
                    },
                )
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
            connection.execute(_ROWS)
            yield from SnapshotFold(model, self.tally).rows(fetched(connection))


class LocalDuckDbExport:
    """A local export directory read by DuckDB: the snapshot source of ``run --from-export``."""

    def __init__(self, directory: Path, model: TableModel) -> None:
        self._directory = directory
        self._model = model

    @property
    def export_id(self) -> str:
        return self._directory.resolve().name

    def open(self) -> tuple[Manifest, Iterator[SnapshotRow]]:
        manifest, paths = load_local_export(self._directory)
        return manifest, DuckDbExportReader(self._model).snapshot(paths, manifest)
