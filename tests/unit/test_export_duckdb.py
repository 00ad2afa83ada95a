"""DuckDB's count of an export equals the truth the writer generated, exactly."""

from __future__ import annotations

import gzip
from pathlib import Path
from typing import Any

import pytest

from reconciler.devtools.export_writer import ExportSpec, generate_export, write_items
from reconciler.kernel.model import EventKey, TableModel
from reconciler.reconcile.core import CounterKind
from reconciler.reconcile.dynamo import stored_counter
from reconciler.reconcile.export_core import InSyncEvents, SnapshotRow, SnapshotTally, suspects
from reconciler.reconcile.export_duckdb import (
    DuckDbExportReader,
    load_local_export,
)
from reconciler.reconcile.export_manifest import ExportIncompleteError

MODEL = TableModel()


def _rows(directory: Path, model: TableModel = MODEL) -> tuple[list[SnapshotRow], Any]:
    """Every slug listed, the in-sync ones included, to check each row's content."""
    manifest, paths = load_local_export(directory)
    reader = DuckDbExportReader(model, threads=2, list_in_sync=True)
    rows = [row for row in reader.snapshot(paths, manifest) if isinstance(row, SnapshotRow)]
    return rows, reader.tally


def _read(directory: Path, **options: Any) -> tuple[list[SnapshotRow | InSyncEvents], Any]:
    manifest, paths = load_local_export(directory)
    reader = DuckDbExportReader(MODEL, threads=2, **options)
    return list(reader.snapshot(paths, manifest)), reader.tally


def _event(slug: str, count: object, partition: str = "FAD", **extra: Any) -> dict[str, Any]:
    item: dict[str, Any] = {"pk": {"S": partition}, "sk": {"S": f"{slug}#2026-05-01"}}
    if count is not None:
        item["attendeeCount"] = count
    return item | extra


def _attendees(slug: str, count: int) -> list[dict[str, Any]]:
    return [{"pk": {"S": f"{slug}#ATTENDEE"}, "sk": {"S": f"a{n}"}} for n in range(count)]


def test_the_counts_equal_the_generated_truth_and_the_drift_is_found_exactly(
    tmp_path: Path,
) -> None:
    spec = ExportSpec(events=300, attendees_per_event=7, drift_percent=10, files=5, seed=3)
    generated = generate_export(tmp_path, spec)
    rows, tally = _rows(generated.directory)
    assert {row.slug: row.counted for row in rows} == generated.counts
    assert [row.slug for row in rows] == sorted(generated.counts)
    found = {suspect.row.slug for suspect in suspects(rows, SnapshotTally())}
    assert generated.drifted
    assert found == generated.drifted
    assert (tally.events, tally.attendees, tally.other) == (300, 2100, 0)


def test_items_of_other_shapes_are_counted_as_other_and_change_no_count(tmp_path: Path) -> None:
    items = [
        _event("gala", {"N": "2"}),
        *_attendees("gala", 2),
        {"pk": {"S": "_RECONCILER"}, "sk": {"S": "lease"}},
        {"pk": {"N": "1"}, "sk": {"S": "gala#x"}},
        {"pk": {"S": "FAD"}},
        {"pk": {"S": "FAD"}, "sk": {"S": "gala"}},
        {"pk": {"S": "FAD"}, "sk": {"S": "#2026"}},
        {"pk": {"S": "a#b#ATTENDEE"}, "sk": {"S": "x"}},
        {"pk": {"S": "gala#ATTENDEE"}, "sk": {"S": ""}},
        {"pk": {"S": " gala#ATTENDEE"}, "sk": {"S": "x"}},
        {"pk": {"S": "\u2003gala#ATTENDEE"}, "sk": {"S": "y"}},
    ]
    directory, _, _ = write_items(tmp_path, items, model=MODEL, files=3)
    rows, tally = _rows(directory)
    assert [(row.slug, row.counted, row.stored.value) for row in rows] == [("gala", 2, 2)]
    assert (tally.events, tally.attendees, tally.other, tally.malformed) == (1, 2, 9, 0)


def test_an_ambiguous_slug_is_reported_with_both_event_items(tmp_path: Path) -> None:
    items = [
        _event("expo", {"N": "1"}),
        _event("expo", {"N": "1"}, "EVENT"),
        *_attendees("expo", 1),
    ]
    directory, _, _ = write_items(tmp_path, items, model=MODEL, files=2)
    rows, _ = _rows(directory)
    (row,) = rows
    assert row.ambiguous
    assert row.keys == (EventKey("EVENT", "expo#2026-05-01"), EventKey("FAD", "expo#2026-05-01"))


def test_missing_and_invalid_counters_and_versions_are_read_as_the_live_pass_reads_them(
    tmp_path: Path,
) -> None:
    items = [
        _event("a", None),
        _event("b", {"S": "3"}),
        _event("c", {"N": "4"}, counterVersion={"N": "17"}),
        _event("d", {"N": "0"}, counterVersion={"S": "x"}),
        *_attendees("c", 4),
    ]
    directory, _, _ = write_items(tmp_path, items, model=MODEL, files=1)
    rows, _ = _rows(directory)
    stored = {row.slug: row.stored for row in rows}
    assert stored["a"].kind is CounterKind.MISSING
    assert (stored["b"].kind, stored["b"].raw) == (CounterKind.INVALID, '{"S":"3"}')
    assert (stored["c"].value, stored["c"].version, stored["c"].raw) == (4, 17, '{"N":"4"}')
    assert stored["d"].version_unreadable
    assert stored["d"].version_raw == '{"S":"x"}'


def test_attendees_without_an_event_item_are_counted_but_yield_no_row(tmp_path: Path) -> None:
    directory, _, _ = write_items(tmp_path, _attendees("ghost", 3), model=MODEL, files=1)
    rows, tally = _rows(directory)
    assert rows == []
    assert (tally.attendees, tally.orphan_attendees) == (3, 3)


def test_a_malformed_line_is_counted_and_makes_the_export_incomplete(tmp_path: Path) -> None:
    generated = generate_export(tmp_path, ExportSpec(events=3, attendees_per_event=2, files=1))
    manifest, paths = load_local_export(generated.directory)
    with gzip.open(paths[0], "at", encoding="utf-8") as stream:
        stream.write("{not json\n")
    reader = DuckDbExportReader(MODEL)
    with pytest.raises(ExportIncompleteError, match="1 malformed"):
        list(reader.snapshot(paths, manifest))
    assert reader.tally.malformed == 1


def test_a_custom_table_model_is_respected(tmp_path: Path) -> None:
    model = TableModel(
        pk_attr="PK",
        sk_attr="SK",
        event_partitions=("CONF",),
        attendee_suffix="|GUEST",
        separator="|",
        counter_attr="guests",
        version_attr="rev",
    )
    spec = ExportSpec(events=40, attendees_per_event=3, drift_percent=25, files=2, seed=11)
    generated = generate_export(tmp_path, spec, model)
    rows, tally = _rows(generated.directory, model)
    assert {row.slug: row.counted for row in rows} == generated.counts
    assert {s.row.slug for s in suspects(rows, SnapshotTally())} == generated.drifted
    assert all(row.keys[0].partition == "CONF" and row.stored.version for row in rows)
    assert tally.other == 0


@pytest.mark.parametrize(
    "attribute",
    [
        {"N": "0"},
        {"N": "7"},
        {"N": "-12"},
        {"N": "123456789012345678"},
        {"N": "123456789012345678901234567890"},
        {"N": "007"},
        {"N": "-0"},
        {"N": "+5"},
        {"N": "2.5"},
        {"N": "1e3"},
        {"N": "5_0"},
        {"N": " 5"},
        {"S": "5"},
        {"NS": ["2", "1"]},
        {"N": "\u0661\u0662"},
        None,
    ],
)
def test_a_counter_and_version_read_from_an_export_are_read_as_the_live_adapter_reads_them(
    tmp_path: Path, attribute: dict[str, Any] | None
) -> None:
    # GIVEN event items holding the attribute as counter, as version, and as both
    model = TableModel()
    items: list[dict[str, Any]] = []
    live = {}
    for slug, names in (
        ("both", (model.counter_attr, model.version_attr)),
        ("counter", (model.counter_attr,)),
        ("version", (model.version_attr,)),
    ):
        attributes = {name: attribute for name in names if attribute is not None}
        items.append(_event(slug, None) | attributes)
        live[slug] = stored_counter(attributes, model)
    directory, _, _ = write_items(tmp_path, items, model=model, files=1)
    # WHEN the export is read THEN each stored counter is what a live read makes of the item
    rows, _ = _rows(directory, model)
    assert {row.slug: row.stored for row in rows} == live


def test_events_sql_proves_in_sync_are_counted_not_listed_and_nothing_else_changes(
    tmp_path: Path,
) -> None:
    # GIVEN a generated export with drift
    spec = ExportSpec(events=200, attendees_per_event=5, drift_percent=10, files=4, seed=8)
    generated = generate_export(tmp_path, spec)
    # WHEN it is read by default and with every slug listed
    counted, counted_tally = _read(generated.directory)
    listed, listed_tally = _read(generated.directory, list_in_sync=True)
    # THEN the in-sync events come first as one count, and only the others are listed
    assert counted[0] == InSyncEvents(200 - len(generated.drifted))
    assert {row.slug for row in counted[1:] if isinstance(row, SnapshotRow)} == generated.drifted
    # AND the suspects, the verdict tallies and the reader's tally are the same either way
    tallies = SnapshotTally(), SnapshotTally()
    assert list(suspects(counted, tallies[0])) == list(suspects(listed, tallies[1]))
    assert tallies[0] == tallies[1]
    assert counted_tally == listed_tally


def test_a_slug_sql_cannot_prove_in_sync_is_listed_and_judged_in_python(tmp_path: Path) -> None:
    items = [
        _event("padded", {"N": "1"}, counterVersion={"N": "007"}),
        *_attendees("padded", 1),
        _event("twice", {"N": "1"}),
        _event("twice", {"N": "1"}, "EVENT"),
        *_attendees("twice", 1),
        _event("plain", {"N": "2"}, counterVersion={"N": "9"}),
        *_attendees("plain", 2),
    ]
    directory, _, _ = write_items(tmp_path, items, model=MODEL, files=2)
    rows, _ = _read(directory)
    assert rows[0] == InSyncEvents(1)
    assert [row.slug for row in rows[1:] if isinstance(row, SnapshotRow)] == ["padded", "twice"]
    tally = SnapshotTally()
    assert list(suspects(rows, tally)) == []
    assert (tally.events, tally.in_sync, tally.ambiguous) == (3, 2, 1)


def test_one_event_is_read_alone_when_asked_for(tmp_path: Path) -> None:
    spec = ExportSpec(events=30, attendees_per_event=3, drift_percent=50, files=2, seed=4)
    generated = generate_export(tmp_path, spec)
    drifted = min(generated.drifted)
    in_sync = min(set(generated.counts) - generated.drifted)
    assert [getattr(r, "slug", r) for r in _read(generated.directory, event=drifted)[0]] == [
        drifted
    ]
    assert _read(generated.directory, event=in_sync)[0] == [InSyncEvents(1)]
