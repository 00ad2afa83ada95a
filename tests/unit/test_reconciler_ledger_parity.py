"""The ledger path does what the classic path does: it replaces an unreadable counterVersion,
reads a refused write back before calling it a conflict, writes its audit ahead, and holds a
bounded number of key suspects, listing an event's keys only when the counts disagree."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from reconciler.reconcile.audit import JsonLinesAuditSink
from reconciler.reconcile.core import Reason
from tests.fakes.reconcile import RecordingAuditSink, stored_counter
from tests.fakes.reconcile_ledger import FakeLedger, lose_response
from tests.unit.reconciler_support import WALL
from tests.unit.reconciler_support import ledger_world as world
from tests.unit.reconciler_support import run_ledger as run


def lost_inserts(ledger: FakeLedger, slug: str, how_many: int) -> None:
    for i in range(how_many):
        ledger.register(slug, f"late-{i}@example.com")


# -- an unreadable counterVersion -----------------------------------------------------------


@pytest.mark.parametrize("count", [3, 9])
def test_an_unreadable_version_on_a_ledger_event_is_replaced_and_the_count_set(
    count: int,
) -> None:
    ledger = world()
    key = ledger.ledger_event("fest", 3)
    event = ledger.table.events_by_key[key]
    event.count, event.version_raw = count, "v7"

    summary, audit = run(ledger)

    stored = stored_counter(event)
    assert (stored.value, stored.version, stored.version_unreadable) == (3, 1, False)
    assert summary.unsupported == 1  # exported as reconciler_invalid_events{unreadable_version}
    assert (summary.versions_replaced, summary.counter_repairs) == (1, 1)
    (record,) = audit.records
    assert record.outcome == "applied"
    expected = Reason.INVALID_VERSION if count == 3 else Reason.DRIFT
    assert record.reason == expected.value


def test_an_unreadable_version_is_only_replaced_as_it_was_measured() -> None:
    ledger = world()
    key = ledger.ledger_event("fest", 3)
    event = ledger.table.events_by_key[key]
    event.version_raw = "v7"
    edits = iter(range(8, 100))

    def hand_edit(operation: str, _slug: str) -> None:
        if operation == "UpdateItem":  # someone rewrites it before every write
            event.version_raw = f"v{next(edits)}"

    ledger.table.before_op = hand_edit

    summary, audit = run(ledger)

    assert event.version_raw == "v10"  # three attempts, each refused, none overwrote
    assert (summary.versions_replaced, summary.conflicts) == (0, 1)
    assert [record.outcome for record in audit.records] == ["conflict"]


def test_a_non_numeric_counter_on_a_ledger_event_is_counted_invalid_and_set() -> None:
    ledger = world()
    key = ledger.ledger_event("fest", 2)
    ledger.table.events_by_key[key].count = "lots"

    summary, _ = run(ledger)

    assert summary.invalid == 1  # exported as reconciler_invalid_events{invalid}
    assert ledger.table.count_of(key) == 2


# -- a refused write read back --------------------------------------------------------------


def test_a_counter_repair_whose_response_was_lost_reads_back_as_applied() -> None:
    ledger = world()
    key = ledger.ledger_event("fest", 4)
    ledger.table.events_by_key[key].count = 9
    ledger.after_write = lose_response("AddToCounter")

    summary, audit = run(ledger)

    assert ledger.table.count_of(key) == 4
    assert (summary.corrected, summary.conflicts, summary.lost_responses) == (1, 0, 1)
    assert [record.outcome for record in audit.records] == ["applied"]


def test_a_counter_repair_refused_at_every_attempt_is_one_conflict() -> None:
    ledger = world()
    key = ledger.ledger_event("fest", 4)
    event = ledger.table.events_by_key[key]
    event.count = 9

    def hand_edit(operation: str) -> None:
        if operation == "AddToCounter":
            event.count = int(str(event.count)) + 1  # an operator edit: count only

    ledger.before_op = hand_edit

    summary, audit = run(ledger)

    assert (summary.corrected, summary.conflicts, summary.lost_responses) == (0, 1, 0)
    assert [record.outcome for record in audit.records] == ["conflict"]
    assert len(audit.intents) == 3  # one per attempt, each closed by the conflict line


def test_a_key_repair_whose_response_was_lost_reads_back_as_applied() -> None:
    ledger = world()
    key = ledger.ledger_event("fest", 2)
    ledger.register("fest", "late@example.com")
    ledger.after_write = lose_response("RepairKey")

    summary, audit = run(ledger)

    assert ledger.table.count_of(key) == 3
    assert (summary.key_repairs_missing, summary.key_conflicts) == (1, 0)
    assert summary.lost_responses == 1
    assert [record.outcome for record in audit.key_records] == ["applied"]


def test_a_key_repair_whose_entry_moved_before_the_write_stays_a_conflict() -> None:
    ledger = world()
    key = ledger.ledger_event("fest", 2)
    ledger.register("fest", "late@example.com")
    ledger.before_op = lambda op: (
        ledger.deliver(key, "late@example.com", present=True) if op == "RepairKey" else None
    )

    summary, audit = run(ledger)

    assert ledger.table.count_of(key) == 3
    assert (summary.key_repairs_missing, summary.key_conflicts) == (0, 1)
    assert [record.outcome for record in audit.key_records] == ["conflict"]


# -- written-ahead audit --------------------------------------------------------------------


def test_every_ledger_write_is_preceded_by_its_intent_line() -> None:
    ledger = world()
    key = ledger.ledger_event("fest", 2)
    ledger.register("fest", "late@example.com")
    ledger.table.events_by_key[key].count = 7
    seen_at_write: list[list[str]] = []
    audit = RecordingAuditSink()

    def look_at_the_audit(_operation: str) -> None:
        seen_at_write.append(list(audit.order))

    ledger.after_write = look_at_the_audit

    summary, _ = run(ledger, audit=audit)

    assert (summary.counter_repairs, summary.key_repairs_missing) == (1, 1)
    # One worker writes the event's counter, then its key; the pass's own thread writes the
    # outcome lines once that worker hands its results back.
    assert seen_at_write == [["intent"], ["intent", "key_intent"]]
    assert audit.order == ["intent", "key_intent", "outcome", "key_outcome"]
    assert "@" not in str(audit.key_intents[0].to_dict())


class Killed(BaseException):
    """The process dies between the write and its outcome line."""


def kill(_operation: str) -> None:
    raise Killed


def test_a_key_repair_cut_off_before_its_outcome_is_resolved_by_a_later_pass(
    tmp_path: Path,
) -> None:
    ledger = world()
    key = ledger.ledger_event("fest", 2)
    ledger.register("fest", "late@example.com")
    file = JsonLinesAuditSink(tmp_path / "audit.jsonl")
    ledger.after_write = kill
    with pytest.raises(Killed):
        run(ledger, audit_file=file)
    ledger.after_write = None

    summary, audit = run(ledger, audit_file=file, wall=WALL + timedelta(minutes=10))

    assert summary.intents_resolved == 1
    (resolved,) = audit.key_records
    assert (resolved.phase, resolved.outcome, resolved.direction) == (
        "resolved",
        "applied",
        "missing",
    )
    assert ledger.table.count_of(key) == 3
    assert list(file.pending_key_intents(WALL + timedelta(hours=1))) == []


def test_a_key_repair_intent_whose_transaction_never_landed_is_resolved_as_a_conflict(
    tmp_path: Path,
) -> None:
    ledger = world()
    ledger.ledger_event("fest", 2)
    ledger.register("fest", "late@example.com")
    file = JsonLinesAuditSink(tmp_path / "audit.jsonl")
    ledger.before_op = lambda op: kill(op) if op == "RepairKey" else None
    with pytest.raises(Killed):
        run(ledger, audit_file=file)
    ledger.before_op = None
    ledger.unregister("fest", "late@example.com")  # gone: nothing left to repair

    summary, audit = run(ledger, audit_file=file, wall=WALL + timedelta(minutes=10))

    assert summary.intents_resolved == 1
    assert [(r.phase, r.outcome) for r in audit.key_records] == [("resolved", "conflict")]


# -- bounded key suspects, and listing only when needed -------------------------------------


def test_key_suspects_beyond_the_cap_are_deferred_counted_and_repaired_by_later_passes() -> None:
    ledger = world()
    key = ledger.ledger_event("fest", 2)
    lost_inserts(ledger, "fest", 5)

    first, _ = run(ledger, max_key_suspects=2)

    assert (first.key_suspects, first.key_suspects_deferred) == (5, 3)
    assert first.key_repairs_confirmed == first.key_repairs_missing == 2
    assert ledger.table.count_of(key) == 4
    second, _ = run(ledger, max_key_suspects=2)
    third, _ = run(ledger, max_key_suspects=2)
    assert (second.key_suspects_deferred, third.key_suspects_deferred) == (1, 0)
    assert ledger.table.count_of(key) == 7 == ledger.table.attendees["fest"]


def test_the_cap_on_key_suspects_holds_across_the_events_of_a_pass() -> None:
    ledger = world()
    for slug in ("fest", "gala", "expo"):
        ledger.ledger_event(slug, 1)
        lost_inserts(ledger, slug, 2)

    summary, _ = run(ledger, max_key_suspects=4)

    assert summary.key_suspects == 6
    assert summary.key_repairs_confirmed == 4
    assert summary.key_suspects_deferred == 2


def test_an_event_whose_counter_entries_and_attendees_agree_is_not_listed() -> None:
    ledger = world()
    ledger.ledger_event("fest", 3)

    summary, _ = run(ledger)

    assert summary.key_listings_skipped == 1
    assert (ledger.requests["Entries"], ledger.requests["Attendees"]) == (0, 0)


def test_a_latent_pair_of_lost_records_is_repaired_once_it_shows_in_the_counts() -> None:
    ledger = world()
    key = ledger.ledger_event("fest", 3)
    ledger.register("fest", "late@example.com")  # INSERT lost
    ledger.unregister("fest", "fest-0@example.com")  # REMOVE lost: the counts still agree

    quiet, _ = run(ledger)

    assert quiet.key_listings_skipped == 1
    assert ledger.table.count_of(key) == 3 == ledger.table.attendees["fest"]  # still exact
    ledger.unregister("fest", "late@example.com")
    ledger.deliver(key, "late@example.com", present=False)  # no entry: counted down
    run(ledger)
    assert ledger.table.count_of(key) == 2 == ledger.table.attendees["fest"]
