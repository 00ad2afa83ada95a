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
import json
import os
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb

from reconciler.kernel.model import EventKey, ItemKind, TableModel, classify, is_valid_slug
from reconciler.reconcile.core import CounterKind, StoredCounter
from reconciler.reconcile.dynamo import stored_counter
from reconciler.reconcile.export_core import InSyncEvents, SnapshotRow, SnapshotRows
from reconciler.reconcile.export_manifest import (
    FILES_NAME,
    SUMMARY_NAME,
    ExportFormatError,
    ExportIncompleteError,
    Manifest,
    parse_files,
    parse_summary,
    verify,
)

FETCH_ROWS = 10_000
"""Rows fetched from DuckDB at a time: the Python side holds one batch, never the result."""

STORED_CACHE = 65_536
"""Distinct (counter, version) pairs a reader keeps read; a few MB at most."""

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
    # hashlib releases the GIL on large buffers: one thread per core reads the files at once.
    with ThreadPoolExecutor(max_workers=os.cpu_count() or 1) as pool:
        paths = [f.relative_path for f in files]
        digests = dict(zip(paths, pool.map(lambda p: _md5(directory / p), paths), strict=True))
    manifest = verify(summary, files, digests)
    return manifest, [str(directory / f.relative_path) for f in manifest.files]


@dataclass(slots=True)
class ScanTally:
    """Every line of the export, by what it is."""

    events: int = 0
    attendees: int = 0
    orphan_attendees: int = 0
    """Attendee items of a slug with no event item (no counter to check)."""
    other: int = 0
    malformed: int = 0

    @property
    def items(self) -> int:
        return self.events + self.attendees + self.other


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

_SCANNED = """
CREATE TEMP TABLE scanned AS
SELECT kind, slug, pk, sk, counter, version, n::BIGINT AS n FROM read_parquet(?)
"""

_TOTALS = "SELECT kind, sum(n)::BIGINT FROM scanned GROUP BY kind"

_FLAG = r"""
CREATE TEMP TABLE flagged AS
WITH counts AS (
    SELECT slug, sum(n)::BIGINT AS attendees FROM scanned WHERE kind = 'attendee' GROUP BY slug
), joined AS (
    SELECT coalesce(e.slug, c.slug) AS slug, e.pk, e.sk, e.counter, e.version,
           coalesce(c.attendees, 0) AS attendees
    FROM (SELECT * FROM scanned WHERE kind = 'event') AS e
    FULL OUTER JOIN counts AS c ON e.slug = c.slug
), valued AS (
    SELECT *,
           regexp_full_match(slug, '[!-~]+') AND strpos(slug, $sep) = 0 AS plain_slug,
           TRY_CAST(regexp_extract(counter, '^\{"N":"(0|-?[1-9][0-9]{0,17})"\}$', 1) AS BIGINT)
               AS counter_value,
           TRY_CAST(regexp_extract(version, '^\{"N":"(0|-?[1-9][0-9]{0,17})"\}$', 1) AS BIGINT)
               AS version_value,
           count(pk) OVER (PARTITION BY slug) AS event_items
    FROM joined
    WHERE $event IS NULL OR slug = $event
)
SELECT *,
       coalesce($bulk AND event_items = 1 AND plain_slug AND counter_value = attendees
                AND (version IS NULL OR version_value IS NOT NULL), false) AS in_sync
FROM valued
"""
"""One row per event item and one per slug with attendees but no event item.

``plain_slug`` (printable ASCII without a space or the separator) is a slug
:func:`~reconciler.kernel.model.is_valid_slug` accepts, and SQL classified its event items as
:func:`~reconciler.kernel.model.classify` does. The ``_value`` columns hold the integer of an
attribute written exactly ``{"N":"<integer>"}`` (as
:func:`~reconciler.reconcile.dynamo.render_attribute` writes it) and small enough for a BIGINT:
the integer the live adapter reads. ``in_sync`` is a sufficient condition for
:func:`~reconciler.reconcile.export_core.judge`'s verdict: one event item, a readable version
or none, a counter equal to the count. Such slugs (nearly all) are counted, not listed."""

_IN_SYNC = "SELECT count(*), coalesce(sum(attendees), 0)::BIGINT FROM flagged WHERE in_sync"

_ROWS = """
SELECT slug, pk, sk, counter, version, attendees, plain_slug, counter_value, version_value
FROM flagged WHERE NOT in_sync
ORDER BY slug, pk NULLS LAST, sk NULLS LAST
"""
"""Flat rows, sorted so that a slug's rows come together: DuckDB hands lists over to Python
several times slower than flat rows."""


_Counter = tuple[str | None, str | None, int | None, int | None]
"""The counter and version texts of a slug's first event item, and their canonical values."""


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
        self._cache: dict[tuple[str | None, str | None], StoredCounter] = {}

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
            yield from self._counted(connection, manifest)

    def snapshot_scanned(self, parquet: str, manifest: Manifest | None = None) -> SnapshotRows:
        """:meth:`snapshot` of lines another engine already classified and grouped as the scan
        does: Parquet files (``parquet``, a glob) of the scan's ``scanned`` table, ``kind, slug,
        pk, sk, counter, version, n``, such as the Spark job writes."""
        self.tally = ScanTally()
        with duckdb.connect(config=self._config) as connection:
            connection.execute(_SCANNED, [parquet])
            yield from self._counted(connection, manifest)

    def _counted(
        self, connection: duckdb.DuckDBPyConnection, manifest: Manifest | None
    ) -> SnapshotRows:
        model = self._model
        totals = {kind: int(count) for kind, count in connection.execute(_TOTALS).fetchall()}
        self.tally.other = totals.get("other", 0)
        self.tally.malformed = malformed = totals.pop("malformed", 0)
        if manifest is not None and (
            malformed or sum(totals.values()) != manifest.summary.item_count
        ):
            raise ExportIncompleteError(
                f"the data files hold {sum(totals.values())} readable items and "
                f"{malformed} malformed line(s); the manifest announces "
                f"{manifest.summary.item_count} items"
            )
        flags = {"sep": model.separator, "event": self._event, "bulk": not self._list_in_sync}
        connection.execute(_FLAG, flags)
        in_sync = connection.execute(_IN_SYNC).fetchone() or (0, 0)
        if in_sync[0]:
            self.tally.events += in_sync[0]
            self.tally.attendees += in_sync[1]
            yield InSyncEvents(in_sync[0])
        connection.execute(_ROWS)
        yield from self._rows(connection)

    def _rows(self, connection: duckdb.DuckDBPyConnection) -> Iterator[SnapshotRow]:
        model, tally = self._model, self.tally
        slug: str | None = None
        plain = False
        keys: list[EventKey] = []
        first: _Counter = (None, None, None, None)
        counted = 0
        while batch := connection.fetchmany(FETCH_ROWS):
            for row_slug, pk, sk, *counter, attendees, row_plain, value, version in batch:
                if row_slug != slug:
                    if slug is not None and (
                        row := self._finish(slug, plain, keys, first, counted)
                    ):
                        yield row
                    slug, plain, keys, counted = row_slug, row_plain, [], attendees
                if pk is None:
                    continue
                if not plain and classify(pk, sk, model).kind is not ItemKind.EVENT:
                    tally.other += 1
                    continue
                if not keys:
                    first = (counter[0], counter[1], value, version)
                keys.append(EventKey(pk, sk))
        if slug is not None and (row := self._finish(slug, plain, keys, first, counted)):
            yield row

    def _finish(
        self, slug: str, plain: bool, keys: list[EventKey], first: _Counter, counted: int
    ) -> SnapshotRow | None:
        tally = self.tally
        tally.events += len(keys)  # each passed classify()
        if not plain and not is_valid_slug(slug, self._model):
            # SQL let through an attendee slug the model refuses (whitespace SQL does not
            # strip): those items are neither events nor attendees.
            tally.other += counted
            return None
        tally.attendees += counted
        if not keys:
            tally.orphan_attendees += counted
            return None
        return SnapshotRow(slug, tuple(keys), self._stored(first), counted)

    def _stored(self, first: _Counter) -> StoredCounter:
        """The live adapter's reading of the counter attributes; canonical integers (nearly
        every counter) are taken from SQL as they are. A :class:`StoredCounter` is immutable
        and events share counter and version values, so each pair is read once (up to
        :data:`STORED_CACHE` pairs: building one costs more than the rest of a slug's row)."""
        key = first[:2]
        stored = self._cache.get(key)
        if stored is None:
            stored = self._read_stored(first)
            if len(self._cache) < STORED_CACHE:
                self._cache[key] = stored
        return stored

    def _read_stored(self, first: _Counter) -> StoredCounter:
        counter, version, value, version_value = first
        if value is not None and (version is None or version_value is not None):
            return StoredCounter(
                CounterKind.NUMBER, value=value, raw=counter, version=version_value
            )
        attributes: dict[str, Any] = {}
        if counter is not None:
            attributes[self._model.counter_attr] = json.loads(counter)
        if version is not None:
            attributes[self._model.version_attr] = json.loads(version)
        return stored_counter(attributes, self._model)


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
