"""The Python side of an export's count, shared by every engine that reads one.

An engine (DuckDB in-process, or the Spark job whose snapshot table DuckDB then reads) turns
the export's lines into totals per kind of item and one row per event item or slug with
attendees, sorted by slug: ``(slug, pk, sk, counter, version, attendees)``. The engines
classify keys in SQL, as :func:`reconciler.kernel.model.classify` does; this module classifies
every row again with the model itself, so no engine can disagree with it on a slug, and folds
the rows into :class:`~reconciler.reconcile.export_core.SnapshotRow` with one tally of the
export's lines.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from reconciler.kernel.model import EventKey, ItemKind, TableModel, classify, is_valid_slug
from reconciler.reconcile.core import CounterKind, StoredCounter
from reconciler.reconcile.dynamo import stored_counter
from reconciler.reconcile.export_core import SnapshotRow
from reconciler.reconcile.export_manifest import ExportIncompleteError, Manifest

FETCH_ROWS = 10_000
"""Rows fetched from DuckDB at a time: the Python side holds one batch, never the result."""

KINDS = ("event", "attendee", "other", "malformed")
"""What an engine calls each line of the export in its totals."""


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


class Fetching(Protocol):
    """A query result read a batch at a time (a DuckDB connection or cursor)."""

    def fetchmany(self, size: int = ...) -> list[Any]: ...


def fetched(result: Fetching) -> Iterator[Sequence[Any]]:
    while batch := result.fetchmany(FETCH_ROWS):
        yield from batch


def check_totals(totals: Mapping[str, int], tally: ScanTally, manifest: Manifest | None) -> None:
    """Start ``tally`` from the engine's totals per kind; with ``manifest``, refuse an export
    whose readable items are not the items it announces, or that has a malformed line."""
    tally.other = totals.get("other", 0)
    tally.malformed = malformed = totals.get("malformed", 0)
    readable = sum(count for kind, count in totals.items() if kind != "malformed")
    if manifest is not None and (malformed or readable != manifest.summary.item_count):
        raise ExportIncompleteError(
            f"the data files hold {readable} readable items and {malformed} malformed "
            f"line(s); the manifest announces {manifest.summary.item_count} items"
        )


class SnapshotFold:
    """Folds an engine's sorted rows into snapshot rows, adding to ``tally`` as it goes."""

    def __init__(self, model: TableModel, tally: ScanTally) -> None:
        self._model = model
        self.tally = tally

    def rows(self, rows: Iterable[Sequence[Any]]) -> Iterator[SnapshotRow]:
        slug: str | None = None
        keys: list[EventKey] = []
        first: tuple[str | None, str | None] = (None, None)
        counted = 0
        for row_slug, pk, sk, counter, version, attendees in rows:
            if row_slug != slug:
                if slug is not None:
                    yield from self._finish(slug, keys, first, counted)
                slug, keys, first, counted = row_slug, [], (None, None), int(attendees)
            if pk is None:
                continue
            if classify(pk, sk, self._model).kind is not ItemKind.EVENT:
                self.tally.other += 1
                continue
            if not keys:
                first = (counter, version)
            keys.append(EventKey(pk, sk))
        if slug is not None:
            yield from self._finish(slug, keys, first, counted)

    def _finish(
        self,
        slug: str,
        keys: list[EventKey],
        first: tuple[str | None, str | None],
        counted: int,
    ) -> Iterator[SnapshotRow]:
        tally = self.tally
        tally.events += len(keys)  # each already passed classify()
        if not is_valid_slug(slug, self._model):
            # SQL let through an attendee slug the model refuses (whitespace SQL does not
            # strip): those items are neither events nor attendees.
            tally.other += counted
            return
        tally.attendees += counted
        if not keys:
            tally.orphan_attendees += counted
            return
        yield SnapshotRow(slug, tuple(keys), stored_attributes(self._model, *first), counted)


def plain_integer(text: str | None) -> int | None:
    """The integer of ``text`` when it is exactly ``{"N":"<integer>"}`` as
    :func:`~reconciler.reconcile.dynamo.render_attribute` writes it (no sign but ``-``, no
    leading zero, no ``-0``), else ``None``: such a counter needs no JSON round trip, which
    is most of the Python side's cost on a table of small events."""
    if text is None or not text.startswith('{"N":"') or not text.endswith('"}'):
        return None
    inner = text[6:-2]
    digits = inner.removeprefix("-")
    if not (digits.isascii() and digits.isdigit()) or len(digits) > 30:
        return None
    if (digits[0] == "0" and len(digits) > 1) or inner == "-0":
        return None
    return int(inner)


def stored_attributes(model: TableModel, counter: str | None, version: str | None) -> StoredCounter:
    """The counter attributes an export holds (DynamoDB JSON text, or ``None`` when absent),
    read as :func:`~reconciler.reconcile.dynamo.stored_counter` reads a live item."""
    value = plain_integer(counter)
    version_value = plain_integer(version)
    if value is not None and (version is None or version_value is not None):
        return StoredCounter(CounterKind.NUMBER, value=value, raw=counter, version=version_value)
    return stored_counter(_attributes(model, counter, version), model)


def _attributes(model: TableModel, counter: str | None, version: str | None) -> dict[str, Any]:
    attributes: dict[str, Any] = {}
    if counter is not None:
        attributes[model.counter_attr] = json.loads(counter)
    if version is not None:
        attributes[model.version_attr] = json.loads(version)
    return attributes
