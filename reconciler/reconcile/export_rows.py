"""The Python side of an export's count, shared by every engine that reads one.

An engine (DuckDB in-process, or the Spark job whose snapshot table DuckDB then reads) turns
the export's lines into totals per kind of item and a table ``joined`` in a DuckDB connection:
one row per event item, and one per slug with attendees but no event item,
``(slug, pk, sk, counter, version, attendees)``. Engines classify keys in SQL as
:func:`reconciler.kernel.model.classify` does; :class:`SnapshotFold` lists the slugs as
:class:`~reconciler.reconcile.export_core.SnapshotRow` (classifying again in Python whatever
SQL cannot prove the model accepts) and counts the slugs SQL proves in sync.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from typing import Any

import duckdb

from reconciler.kernel.model import EventKey, ItemKind, TableModel, classify, is_valid_slug
from reconciler.reconcile.core import CounterKind, StoredCounter
from reconciler.reconcile.dynamo import stored_counter
from reconciler.reconcile.export_core import InSyncEvents, SnapshotRow, SnapshotRows
from reconciler.reconcile.export_manifest import ExportIncompleteError, Manifest

FETCH_ROWS = 10_000
"""Rows fetched from DuckDB at a time: the Python side holds one batch, never the result."""

STORED_CACHE = 65_536
"""Distinct (counter, version) pairs a fold keeps read; a few MB at most."""


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


def check_totals(totals: Mapping[str, int], tally: ScanTally, manifest: Manifest | None) -> None:
    """Start ``tally`` from the engine's totals per kind (``event``, ``attendee``, ``other``,
    ``malformed``); with ``manifest``, refuse an export whose readable items are not the items
    it announces, or that has a malformed line."""
    tally.other = totals.get("other", 0)
    tally.malformed = malformed = totals.get("malformed", 0)
    readable = sum(count for kind, count in totals.items() if kind != "malformed")
    if manifest is not None and (malformed or readable != manifest.summary.item_count):
        raise ExportIncompleteError(
            f"the data files hold {readable} readable items and {malformed} malformed "
            f"line(s); the manifest announces {manifest.summary.item_count} items"
        )


_FLAG = r"""
CREATE TEMP TABLE flagged AS
WITH valued AS (
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


class SnapshotFold:
    """Reads an engine's ``joined`` table into snapshot rows, adding to ``tally`` as it goes.

    ``event`` keeps one slug; ``list_in_sync`` lists the slugs SQL proves in sync as well
    (for tests that look at every row), instead of counting them.
    """

    def __init__(
        self,
        model: TableModel,
        tally: ScanTally,
        *,
        event: str | None = None,
        list_in_sync: bool = False,
    ) -> None:
        self._model = model
        self.tally = tally
        self._event = event
        self._list_in_sync = list_in_sync
        self._cache: dict[tuple[str | None, str | None], StoredCounter] = {}

    def read(self, connection: duckdb.DuckDBPyConnection) -> SnapshotRows:
        """Slugs sorted, after one :class:`InSyncEvents` (when any); ``tally`` is complete
        once the iterator is exhausted."""
        model = self._model
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


__all__ = ["FETCH_ROWS", "STORED_CACHE", "ScanTally", "SnapshotFold", "check_totals"]
