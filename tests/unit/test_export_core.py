"""The snapshot's verdicts, and the live confirmation with the snapshot as first look."""

from __future__ import annotations

import pytest

from reconciler.kernel.model import EventKey
from reconciler.reconcile.core import (
    CounterKind,
    Observation,
    Reason,
    Recheck,
    StoredCounter,
    confirm,
)
from reconciler.reconcile.export_core import (
    SnapshotRow,
    SnapshotTally,
    SnapshotVerdict,
    Suspect,
    judge,
    suspects,
)

KEY = EventKey("FAD", "gala#2026")
EXPORTED = 1_000.0
SETTLE = 30.0


def _stored(value: int | None, version: int | None = 4) -> StoredCounter:
    if value is None:
        return StoredCounter(CounterKind.MISSING, version=version)
    return StoredCounter(CounterKind.NUMBER, value=value, raw=f'{{"N":"{value}"}}', version=version)


def _row(value: int | None, counted: int, *keys: EventKey) -> SnapshotRow:
    return SnapshotRow("gala", keys or (KEY,), _stored(value), counted)


def _suspect(value: int | None = 5, counted: int = 7) -> Suspect:
    (suspect,) = suspects([_row(value, counted)], SnapshotTally())
    return suspect


def _first_look(suspect: Suspect) -> Observation:
    """The export plays the first look, dated at its own instant."""
    return Observation(suspect.key, suspect.row.stored, suspect.row.counted, EXPORTED)


def _live(value: int | None, counted: int, version: int | None = 4) -> Observation:
    return Observation(KEY, _stored(value, version), counted, EXPORTED + SETTLE)


def test_a_counter_equal_to_its_snapshot_count_is_in_sync() -> None:
    assert judge(_row(7, 7)) == (SnapshotVerdict.IN_SYNC, None)


def test_a_counter_that_differs_or_is_missing_is_a_suspect_with_its_reason() -> None:
    assert judge(_row(5, 7)) == (SnapshotVerdict.SUSPECT, Reason.DRIFT)
    assert judge(_row(None, 7)) == (SnapshotVerdict.SUSPECT, Reason.MISSING)


def test_two_event_items_for_one_slug_are_ambiguous_and_never_suspects() -> None:
    row = _row(5, 7, KEY, EventKey("EVENT", "gala#2026"))
    tally = SnapshotTally()
    ambiguous: list[str] = []
    assert list(suspects([row, _row(1, 2)], tally, ambiguous)) == [
        Suspect(_row(1, 2), Reason.DRIFT)
    ]
    assert ambiguous == ["gala"]
    assert (tally.events, tally.ambiguous, tally.suspects, tally.in_sync) == (2, 1, 1, 0)


def test_a_live_look_that_agrees_with_the_snapshot_confirms_the_correction() -> None:
    recheck, correction = confirm(_first_look(_suspect()), _live(5, 7))
    assert recheck is Recheck.CONFIRMED
    assert correction is not None
    assert (correction.key, correction.counted, correction.delta) == (KEY, 7, 2)


@pytest.mark.parametrize(
    "live",
    [
        _live(5, 8),  # an attendee registered since the export
        _live(6, 7),  # the counter moved
        _live(5, 7, version=5),  # the handler applied an update: the version moved (ABA)
        Observation(KEY, None, 7, EXPORTED + SETTLE),  # the event was deleted
    ],
)
def test_a_live_look_that_differs_from_the_snapshot_is_in_flux(live: Observation) -> None:
    recheck, correction = confirm(_first_look(_suspect()), live)
    assert (recheck, correction) == (Recheck.IN_FLUX, None)
