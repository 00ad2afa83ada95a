from __future__ import annotations

from reconciler.kernel.event_lookup import LookupOutcome, resolve
from reconciler.kernel.model import EventKey


def test_no_match_is_an_orphan():
    assert resolve([]).outcome is LookupOutcome.ORPHAN


def test_one_match_is_found():
    key = EventKey("FAD", "tech#2024-10-27#conference")
    lookup = resolve([key])
    assert lookup.outcome is LookupOutcome.FOUND
    assert lookup.key == key


def test_two_matches_are_ambiguous_and_never_guessed():
    keys = [EventKey("FAD", "tech#2024-10-27#conference"), EventKey("EVENT", "tech#2025-01-01#x")]
    lookup = resolve(keys)
    assert lookup.outcome is LookupOutcome.AMBIGUOUS
    assert lookup.key is None
    assert lookup.candidates == tuple(keys)
