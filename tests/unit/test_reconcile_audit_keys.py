"""Key-repair audit records: written ahead like the counter corrections', resolved by reading the
entry back, paired with their outcome by item in the audit file, and free of attendee data."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

from reconciler.kernel.ledger import Entry, Position
from reconciler.kernel.logs import configure_logging
from reconciler.kernel.model import EventKey
from reconciler.reconcile.audit import (
    JsonLinesAuditSink,
    LogAuditSink,
    intent_record,
    key_intent_record,
    key_repair_record,
    resolve_key_intent,
)
from reconciler.reconcile.core import CorrectionOutcome
from reconciler.reconcile.ledger_core import AttendeeRef, KeyDirection, KeyRepair
from tests.unit.test_reconcile_audit import DRIFT

EVENT = EventKey("EVENT", "fest#2024-11-20#conference")
AT = Position("stream", f"{7:040d}")
ANN = AttendeeRef("fest#ATTENDEE", "ann@example.com")
BOB = AttendeeRef("fest#ATTENDEE", "bob@example.com")
MISSING = KeyRepair(EVENT, ANN.item, KeyDirection.MISSING, Entry(False, AT), Entry(True, AT))
EXTRA = KeyRepair(EVENT, BOB.item, KeyDirection.EXTRA, Entry(True), Entry(False))
T0 = "2024-11-20T09:30:00.000+00:00"
LATER = datetime(2024, 11, 20, 10, 0, tzinfo=UTC)


def test_a_key_intent_has_the_repair_but_no_outcome_and_no_address() -> None:
    intent = key_intent_record("run-1", MISSING, T0)
    assert (intent.phase, intent.outcome, intent.hold) == ("intent", None, None)
    assert (intent.direction, intent.delta, intent.position) == ("missing", 1, AT.render())
    assert "ann@example.com" not in json.dumps(intent.to_dict())


def test_a_key_intent_is_applied_when_the_entry_reads_back_as_repaired() -> None:
    intent = key_intent_record("run-1", MISSING, T0)
    resolved = resolve_key_intent(intent, Entry(True, AT), "run-2", T0)
    assert (resolved.phase, resolved.outcome, resolved.resolved_by) == (
        "resolved",
        "applied",
        "run-2",
    )
    assert resolve_key_intent(
        key_intent_record("run-1", EXTRA, T0), Entry(False), "r", T0
    ).outcome == ("applied")


def test_a_key_intent_is_a_conflict_when_the_entry_is_as_before_or_moved_on() -> None:
    intent = key_intent_record("run-1", MISSING, T0)
    moved = Entry(True, Position("stream", f"{9:040d}"))
    for entry in (Entry(False, AT), moved, None):
        assert resolve_key_intent(intent, entry, "run-2", T0).outcome == "conflict"


def test_key_intents_pair_with_their_outcome_by_item_apart_from_counter_intents(
    tmp_path: Path,
) -> None:
    path = tmp_path / "audit.jsonl"
    sink = JsonLinesAuditSink(path)
    sink.write(intent_record("run-1", DRIFT, T0))  # a counter intent left open: not a key's
    sink.write_key_repair(key_intent_record("run-1", MISSING, T0))
    sink.write_key_repair(key_repair_record("run-1", MISSING, CorrectionOutcome.APPLIED, T0))
    sink.write_key_repair(key_intent_record("run-1", EXTRA, T0))  # killed before its outcome
    sink.close()
    (pending,) = JsonLinesAuditSink(path).pending_key_intents(LATER)
    assert (pending.item, pending.direction) == (BOB.item, "extra")
    (counter,) = JsonLinesAuditSink(path).pending_intents(LATER)
    assert counter.sort_key == DRIFT.key.sort_key


def test_a_key_intent_is_logged_as_ledger_key_repair_intent() -> None:
    stream = io.StringIO()
    configure_logging("json", "info", stream=stream)
    LogAuditSink().write_key_repair(key_intent_record("run-1", MISSING, T0))
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert (line["event"], line["phase"], line["kind"]) == (
        "ledger_key_repair_intent",
        "intent",
        "key_repair",
    )
