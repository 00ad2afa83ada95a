"""Audit records: what they hold, the JSON-lines file, and the log line."""

from __future__ import annotations

import io
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.kernel.errors import ReconcilerError
from reconciler.kernel.logs import configure_logging
from reconciler.kernel.model import EventKey
from reconciler.reconcile.audit import (
    LOG_EVENTS,
    AuditWriteError,
    JsonLinesAuditSink,
    LogAuditSink,
    audit_record,
    intent_record,
    resolve_intent,
)
from reconciler.reconcile.core import (
    Correction,
    CorrectionOutcome,
    CounterKind,
    Hold,
    Reason,
    StoredCounter,
)
from reconciler.serve.metrics import CORRECTION_OUTCOMES

KEY = EventKey("FAD", "tech-summit-2024#2024-10-27#conference")
DRIFT = Correction(KEY, Reason.DRIFT, StoredCounter(CounterKind.NUMBER, 12, '{"N":"12"}', 4), 10)


def test_a_record_holds_key_values_delta_reason_and_outcome():
    record = audit_record(
        "run-1", DRIFT, CorrectionOutcome.APPLIED, "2024-10-27T09:30:00.000+00:00"
    )
    assert record.to_dict() == {
        "run_id": "run-1",
        "partition": "FAD",
        "sort_key": "tech-summit-2024#2024-10-27#conference",
        "slug": "tech-summit-2024",
        "stored": 12,
        "stored_raw": None,
        "counted": 10,
        "delta": -2,
        "reason": "drift",
        "outcome": "applied",
        "hold": None,
        "version": 4,
        "time": "2024-10-27T09:30:00.000+00:00",
        "phase": "outcome",
        "version_after": 5,
        "resolved_by": None,
    }


@pytest.mark.parametrize("hold", list(Hold))
def test_held_records_say_what_held_them_in_the_words_of_the_metric_label(hold: Hold):
    record = audit_record("r", DRIFT, hold.outcome, "t")
    assert (record.outcome, record.hold) == (hold.value, hold.value)
    assert record.outcome in CORRECTION_OUTCOMES


def test_an_in_flux_event_has_no_correction_to_audit():
    with pytest.raises(ValueError, match="in-flux"):
        audit_record("r", DRIFT, CorrectionOutcome.IN_FLUX, "t")


def test_the_file_is_appended_one_json_object_per_line(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    path.write_text('{"earlier": true}\n')
    sink = JsonLinesAuditSink(path)
    sink.write(audit_record("r1", DRIFT, CorrectionOutcome.APPLIED, "t1"))
    sink.write(audit_record("r1", DRIFT, CorrectionOutcome.CONFLICT, "t2"))
    sink.close()
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    assert lines[0] == {"earlier": True}
    assert [line["outcome"] for line in lines[1:]] == ["applied", "conflict"]


def test_applied_records_are_logged_as_counter_corrected_with_their_fields():
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    record = audit_record("r1", DRIFT, CorrectionOutcome.APPLIED, "2024-10-27T09:30:00.123+00:00")
    LogAuditSink().write(record)
    LogAuditSink().write(audit_record("r1", DRIFT, CorrectionOutcome.CONFLICT, "t"))
    lines = [json.loads(line) for line in out.getvalue().splitlines()]
    assert lines[0]["event"] == "counter_corrected"
    assert (lines[0]["slug"], lines[0]["delta"], lines[0]["run_id"]) == (
        "tech-summit-2024",
        -2,
        "r1",
    )
    # Every field of the record, the record's own time included.
    assert {k: v for k, v in lines[0].items() if k in record.to_dict()} == record.to_dict()
    assert lines[1]["event"] == "counter_correction_conflict"


@pytest.mark.parametrize("hold", list(Hold))
def test_a_held_correction_is_never_logged_as_counter_corrected(hold: Hold):
    out = io.StringIO()
    configure_logging("json", "info", stream=out)
    LogAuditSink().write(audit_record("r1", DRIFT, hold.outcome, "t"))
    (line,) = [json.loads(line) for line in out.getvalue().splitlines()]
    assert line["event"] == "counter_correction_planned"
    assert (line["outcome"], line["hold"]) == (hold.value, hold.value)


def test_every_audited_outcome_has_a_log_event_and_in_flux_has_none():
    assert set(LOG_EVENTS) == set(CorrectionOutcome) - {CorrectionOutcome.IN_FLUX}


def test_a_failing_audit_file_is_a_reconciler_error_not_a_crash(tmp_path: Path):
    link = tmp_path / "audit.jsonl"
    link.symlink_to(tmp_path / "gone" / "audit.jsonl")
    sink = JsonLinesAuditSink(link)
    with pytest.raises(AuditWriteError) as info:
        sink.write(audit_record("r1", DRIFT, CorrectionOutcome.APPLIED, "t"))
    assert isinstance(info.value, ReconcilerError)


# -- written ahead -----------------------------------------------------------------------------

T0 = "2024-10-27T09:30:00.000+00:00"
LATER = datetime(2024, 10, 27, 10, 0, tzinfo=UTC)


def test_an_intent_line_has_every_field_but_no_outcome_yet():
    intent = intent_record("run-1", DRIFT, T0).to_dict()
    assert (intent["phase"], intent["outcome"], intent["hold"]) == ("intent", None, None)
    assert (intent["counted"], intent["version"], intent["version_after"]) == (10, 4, 5)


def test_an_intent_is_resolved_as_applied_when_the_item_holds_what_the_write_sets():
    intent = intent_record("run-1", DRIFT, T0)
    held = StoredCounter(CounterKind.NUMBER, 10, '{"N":"10"}', 5)
    resolved = resolve_intent(intent, held, "run-2", T0)
    assert (resolved.phase, resolved.outcome, resolved.resolved_by) == (
        "resolved",
        "applied",
        "run-2",
    )
    assert resolved.run_id == "run-1"  # paired with its intent


@pytest.mark.parametrize(
    "now",
    [
        StoredCounter(CounterKind.NUMBER, 12, '{"N":"12"}', 4),  # never written
        StoredCounter(CounterKind.NUMBER, 11, '{"N":"11"}', 6),  # moved on since
        None,  # the event item is gone
    ],
)
def test_an_intent_the_item_does_not_show_is_resolved_as_a_conflict(now: StoredCounter | None):
    resolved = resolve_intent(intent_record("run-1", DRIFT, T0), now, "run-2", T0)
    assert resolved.outcome == "conflict"


def test_only_intents_without_an_outcome_line_are_pending(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    sink = JsonLinesAuditSink(path)
    other = Correction(
        EventKey("FAD", "ai#2024-10-27#conference"),
        Reason.DRIFT,
        StoredCounter(CounterKind.NUMBER, 1, '{"N":"1"}', 1),
        2,
    )
    sink.write(intent_record("run-1", DRIFT, T0))
    sink.write(audit_record("run-1", DRIFT, CorrectionOutcome.APPLIED, T0))
    sink.write(intent_record("run-1", other, T0))  # killed before its outcome
    sink.close()
    with path.open("a", encoding="utf-8") as torn:
        torn.write('{"run_id": "run-1", "partit')  # a line cut off by the kill
    pending = list(JsonLinesAuditSink(path).pending_intents(LATER))
    assert [intent.sort_key for intent in pending] == ["ai#2024-10-27#conference"]
    assert list(JsonLinesAuditSink(path).pending_intents(datetime(2024, 1, 1, tzinfo=UTC))) == []


def test_a_missing_audit_file_has_no_pending_intents(tmp_path: Path):
    assert list(JsonLinesAuditSink(tmp_path / "none.jsonl").pending_intents(LATER)) == []


def test_an_intent_is_logged_as_counter_correction_intent():
    stream = io.StringIO()
    configure_logging("json", "info", stream=stream)
    LogAuditSink().write(intent_record("run-1", DRIFT, T0))
    line = json.loads(stream.getvalue().strip().splitlines()[-1])
    assert (line["event"], line["phase"]) == ("counter_correction_intent", "intent")
