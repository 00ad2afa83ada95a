"""The audit is written ahead of every correction: an intent before the write, the outcome after,
and a later pass settles an intent whose outcome a kill cut off by reading the item back."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from reconciler.reconcile.audit import JsonLinesAuditSink
from reconciler.reconcile.reconciler import PassOptions, Reconciler
from tests.fakes.reconcile import FakeClock, FakeReconcileTable
from tests.unit.reconciler_support import NO_BRAKE, SETTLE, build

NINE_THIRTY = datetime(2024, 10, 27, 9, 30, tzinfo=UTC)


class Killed(BaseException):
    """The process dying right after the write landed (not an error the pass could catch)."""


def file_pass(table: FakeReconcileTable, path: Path, wall: datetime) -> Reconciler:
    sink = JsonLinesAuditSink(path)
    clock = FakeClock()
    return Reconciler(
        events=table,
        table=table,
        audit=sink,
        options=PassOptions(SETTLE, 1, NO_BRAKE),
        clock=clock,
        sleep=clock.sleep,
        wall=lambda: wall,
        on_close=[sink.close],
        intents=sink,
    )


def lines(path: Path) -> list[dict[str, object]]:
    return [json.loads(line) for line in path.read_text().splitlines()]


def test_every_write_is_preceded_by_its_intent_and_followed_by_its_outcome():
    table = FakeReconcileTable()
    table.add_event("tech", 1, attendees=4)
    phases_at_write: list[list[str]] = []
    reconciler, audit, _ = build(table)
    table.after_write = lambda _c: phases_at_write.append(list(audit.order))
    reconciler.run_pass()
    assert phases_at_write == [["intent"]]
    assert audit.order == ["intent", "outcome"]
    assert audit.intents[0].run_id == audit.records[0].run_id


def test_a_held_correction_has_no_intent_because_nothing_is_written():
    table = FakeReconcileTable()
    table.add_event("tech", 1, attendees=4)
    reconciler, audit, _ = build(table, dry_run=True)
    reconciler.run_pass()
    assert audit.order == ["outcome"]


def test_a_kill_between_the_write_and_its_outcome_still_leaves_the_intent(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    table = FakeReconcileTable()
    table.add_event("tech", 1, attendees=4)

    def kill(_correction: object) -> None:
        raise Killed

    table.after_write = kill
    reconciler = file_pass(table, path, NINE_THIRTY)
    with pytest.raises(Killed):
        reconciler.run_pass()
    reconciler.close()
    assert [(line["phase"], line["outcome"]) for line in lines(path)] == [("intent", None)]


def test_a_later_pass_resolves_the_cut_off_intent_by_reading_the_item_back(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    table = FakeReconcileTable()
    key = table.add_event("ai", 2, attendees=5)  # corrected first: the kill comes after it
    table.add_event("tech", 1, attendees=4)

    def kill(_correction: object) -> None:
        raise Killed

    table.after_write = kill
    first = file_pass(table, path, NINE_THIRTY)
    with pytest.raises(Killed):
        first.run_pass()
    first.close()
    table.after_write = None
    # WHEN a pass runs past the grace period
    later = file_pass(table, path, NINE_THIRTY + timedelta(minutes=10))
    summary = later.run_pass()
    later.close()
    # THEN the intent is settled as applied (the item holds what it wrote), paired with it
    written = lines(path)
    resolved = [line for line in written if line["phase"] == "resolved"]
    assert len(resolved) == 1
    assert (resolved[0]["outcome"], resolved[0]["sort_key"]) == ("applied", key.sort_key)
    assert resolved[0]["run_id"] == written[0]["run_id"] != resolved[0]["resolved_by"]
    assert summary.intents_resolved == 1
    # AND a third pass finds nothing left to resolve
    third = file_pass(table, path, NINE_THIRTY + timedelta(minutes=20))
    assert third.run_pass().intents_resolved == 0
    third.close()


def test_an_intent_whose_write_never_landed_resolves_as_a_conflict(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    table = FakeReconcileTable()
    table.add_event("tech", 1, attendees=4)

    def kill_before_the_write(operation: str, _slug: str) -> None:
        if operation == "UpdateItem":
            raise Killed

    table.before_op = kill_before_the_write
    first = file_pass(table, path, NINE_THIRTY)
    with pytest.raises(Killed):
        first.run_pass()
    first.close()
    table.before_op = None
    summary = file_pass(table, path, NINE_THIRTY + timedelta(minutes=10)).run_pass()
    resolved = [line for line in lines(path) if line["phase"] == "resolved"]
    assert [line["outcome"] for line in resolved] == ["conflict"]
    assert (summary.intents_resolved, summary.corrected) == (1, 1)  # and this pass fixes it


def test_a_young_intent_may_belong_to_a_running_shard_and_is_left_alone(tmp_path: Path):
    path = tmp_path / "audit.jsonl"
    table = FakeReconcileTable()
    table.add_event("tech", 1, attendees=4)

    def kill(_correction: object) -> None:
        raise Killed

    table.after_write = kill
    first = file_pass(table, path, NINE_THIRTY)
    with pytest.raises(Killed):
        first.run_pass()
    first.close()
    table.after_write = None
    summary = file_pass(table, path, NINE_THIRTY + timedelta(minutes=1)).run_pass()
    assert summary.intents_resolved == 0
