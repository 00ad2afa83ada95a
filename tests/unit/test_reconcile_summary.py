"""The typed pass summary: its published JSON, its I/O statistics, and one outcome vocabulary
shared by the audit, the Prometheus labels and the CloudWatch metrics."""

from __future__ import annotations

import json

import pytest
from prometheus_client import CollectorRegistry

from reconciler.kernel.model import EventKey
from reconciler.reconcile.core import (
    BrakeDecision,
    BrakePolicy,
    CorrectionOutcome,
    CounterKind,
    Hold,
    Observation,
    Shard,
    StoredCounter,
    first_look,
)
from reconciler.reconcile.publisher import summary_datums
from reconciler.reconcile.reconciler import PassControl, PassOptions, Reconciler
from reconciler.reconcile.summary import AwsErrorKey, IoStats, PassSummary, StopReason
from reconciler.serve.metrics import CORRECTION_OUTCOMES, ReconcilerMetrics
from tests.fakes.reconcile import FakeClock, FakeReconcileTable, RecordingAuditSink

PUBLISHED_KEYS = frozenset(
    {
        "run_id",
        "events_checked",
        "in_sync",
        "drifted",
        "drift_over",
        "drift_under",
        "drift_attendees_over",
        "drift_attendees_under",
        "corrected",
        "conflicts",
        "in_flux",
        "ambiguous",
        "initialized",
        "invalid",
        "planned",
        "brake_tripped",
        "dry_run",
        "corrections_paused",
        "consumed_read_units",
        "duration_seconds",
        "failed",
        "error",
        "confirmed",
        "missing",
        "vanished",
        "unsupported",
        "stopped_early",
        "aborted",
        "brake_reason",
        "brake_overridden",
        "event_slug",
        "shard",
        "settle_seconds",
        "requests",
        "aws_errors",
        "consumed_write_units",
    }
)
"""Every key the summary line had before it was typed; scripts parse them."""

KEY = EventKey("EVENT", "tech#2024-10-27#conference")
NO_BRAKE = BrakePolicy(max_corrections=1000, max_ratio=1.0, min_events_for_ratio=1000)
TIGHT_BRAKE = BrakePolicy(max_corrections=0, max_ratio=1.0, min_events_for_ratio=1000)


def number(value: int) -> StoredCounter:
    return StoredCounter(CounterKind.NUMBER, value=value, raw=f'{{"N":"{value}"}}', version=1)


def tally(*looks: tuple[StoredCounter | None, int]) -> PassSummary:
    summary = PassSummary(run_id="t")
    for stored, counted in looks:
        observation = Observation(KEY, stored, counted, 0.0)
        summary.tally_first_look(first_look(observation), observation)
    return summary


# -- the published JSON ------------------------------------------------------------------------


def test_a_bare_summary_still_has_every_published_key():
    assert set(PassSummary(run_id="r").to_dict()) >= PUBLISHED_KEYS


def test_the_typed_fields_are_published_under_their_old_keys_and_values():
    summary = PassSummary(
        run_id="r",
        brake=BrakeDecision(tripped=False, reason="3 corrections exceed", overridden=True),
        shard=Shard(1, 4),
        event_slug="tech",
        settle_seconds=120.0,
        io=IoStats(
            requests={"GetItem": 2, "Query": 3},
            read_units=1.23456,
            write_units=2.34567,
            errors={
                AwsErrorKey("Query", "ThrottlingException"): 2,
                AwsErrorKey("GetItem", "InternalServerError"): 1,
            },
        ),
    )
    line = json.loads(json.dumps(summary.to_dict()))
    assert (line["brake_tripped"], line["brake_overridden"]) == (False, True)
    assert line["brake_reason"] == "3 corrections exceed"
    assert (line["shard"], line["event_slug"], line["settle_seconds"]) == ("1/4", "tech", 120.0)
    assert line["requests"] == {"GetItem": 2, "Query": 3}
    assert (line["consumed_read_units"], line["consumed_write_units"]) == (1.235, 2.346)
    assert line["aws_errors"] == {"GetItem:InternalServerError": 1, "Query:ThrottlingException": 2}


@pytest.mark.parametrize(
    ("stop", "stopped_early", "aborted"),
    [
        (StopReason.NONE, False, None),
        (StopReason.STOPPED_EARLY, True, None),
        (StopReason.LEASE_LOST, False, "lease_lost"),
    ],
)
def test_the_stop_reason_is_published_as_stopped_early_and_aborted(stop, stopped_early, aborted):
    line = PassSummary(run_id="r", stop=stop).to_dict()
    assert (line["stopped_early"], line["aborted"]) == (stopped_early, aborted)


def test_a_held_pass_publishes_its_hold_beside_the_planned_count():
    line = PassSummary(run_id="r", planned=2, hold=Hold.PAUSED).to_dict()
    assert (line["planned"], line["hold"]) == (2, "paused")
    assert PassSummary(run_id="r").to_dict()["hold"] is None


def test_stopping_early_or_losing_the_lease_aborts_the_scheduled_run():
    for stop in (StopReason.STOPPED_EARLY, StopReason.LEASE_LOST):
        assert PassSummary(run_id="r", stop=stop).stopped_on_purpose is True
        assert PassSummary(run_id="r", stop=stop).outcome.value == "aborted"
    assert PassSummary(run_id="r").stopped_on_purpose is False


# -- I/O statistics ----------------------------------------------------------------------------


def test_io_over_a_pass_keeps_only_what_changed_with_typed_error_keys():
    throttled = AwsErrorKey("Query", "ThrottlingException")
    internal = AwsErrorKey("GetItem", "InternalServerError")
    before = IoStats({"Query": 4, "GetItem": 1}, 2.0, 1.0, {throttled: 1, internal: 1})
    after = IoStats({"Query": 6, "GetItem": 1}, 5.0, 1.5, {throttled: 3, internal: 1})
    delta = after.minus(before)
    assert delta.requests == {"Query": 2}
    assert (delta.read_units, delta.write_units) == (3.0, 0.5)
    assert delta.errors == {throttled: 2}


def test_an_error_key_prints_as_the_operation_and_code_of_the_json():
    assert str(AwsErrorKey("UpdateItem", "ValidationException")) == "UpdateItem:ValidationException"


# -- first looks -------------------------------------------------------------------------------


def test_first_looks_are_tallied_by_what_they_found():
    summary = tally(
        (number(3), 3),
        (number(5), 3),
        (number(1), 4),
        (StoredCounter(CounterKind.MISSING, version=None), 2),
        (StoredCounter(CounterKind.INVALID, raw='{"S":"x"}', version=1), 2),
        (StoredCounter(CounterKind.NUMBER, 1, '{"N":"1"}', None, version_unreadable=True), 2),
        (None, 0),
    )
    # The unreadable version (stored 1, counted 2) is a drift the pass now repairs as well.
    assert (summary.in_sync, summary.drifted, summary.missing, summary.invalid) == (1, 3, 1, 1)
    assert (summary.drift_over, summary.drift_attendees_over) == (1, 2)
    assert (summary.drift_under, summary.drift_attendees_under) == (2, 4)
    assert (summary.unsupported, summary.vanished) == (1, 1)


# -- one outcome vocabulary --------------------------------------------------------------------


def test_the_prometheus_labels_are_the_outcome_words_unchanged():
    assert CORRECTION_OUTCOMES == ("applied", "conflict", "in_flux", "dry_run", "braked", "paused")
    assert tuple(outcome.value for outcome in CorrectionOutcome) == CORRECTION_OUTCOMES


def test_held_corrections_count_under_their_hold_and_nothing_else_moves():
    summary = PassSummary(run_id="r", corrected=0, in_flux=2, planned=5, hold=Hold.BRAKED)
    counts = summary.correction_outcomes()
    assert set(counts) == set(CorrectionOutcome)
    assert {outcome: n for outcome, n in counts.items() if n} == {
        CorrectionOutcome.BRAKED: 5,
        CorrectionOutcome.IN_FLUX: 2,
    }


@pytest.mark.parametrize("hold", list(Hold))
def test_every_hold_is_published_to_cloudwatch_as_corrections_planned(hold: Hold):
    datums = {d.name: d.value for d in summary_datums(PassSummary("r", planned=4, hold=hold))}
    assert datums["CorrectionsPlanned"] == 4
    assert datums["Corrected"] == datums["Conflicts"] == datums["InFlux"] == 0


def test_cloudwatch_gets_the_same_metric_names_whatever_the_outcomes():
    quiet = [d.name for d in summary_datums(PassSummary("r"))]
    busy = PassSummary("r", corrected=2, conflicts=1, in_flux=3, planned=1, hold=Hold.DRY_RUN)
    assert [d.name for d in summary_datums(busy)] == quiet
    assert len(quiet) == len(set(quiet))
    values = {d.name: d.value for d in summary_datums(busy)}
    assert (values["Corrected"], values["Conflicts"], values["InFlux"]) == (2, 1, 3)


def test_cloudwatch_gets_invalid_counters_and_unreadable_versions_apart():
    values = {d.name: d.value for d in summary_datums(PassSummary("r", invalid=2, unsupported=3))}
    assert (values["Invalid"], values["UnreadableVersion"]) == (2, 3)


def held_pass(how: str) -> tuple[PassSummary, RecordingAuditSink]:
    table = FakeReconcileTable()
    table.add_event("tech", 9, attendees=7)
    clock = FakeClock()
    audit = RecordingAuditSink()
    reconciler = Reconciler(
        events=table,
        table=table,
        audit=audit,
        options=PassOptions(
            120.0, 1, TIGHT_BRAKE if how == "brake" else NO_BRAKE, dry_run=how == "dry_run"
        ),
        clock=clock,
        sleep=clock.sleep,
    )
    summary = reconciler.run_pass(PassControl(corrections_paused=how == "paused"))
    assert table.writes == []
    return summary, audit


@pytest.mark.parametrize(
    ("how", "word"), [("dry_run", "dry_run"), ("paused", "paused"), ("brake", "braked")]
)
def test_a_held_correction_is_audited_with_the_word_its_metric_label_uses(how: str, word: str):
    # GIVEN a pass whose one confirmed correction is held
    summary, audit = held_pass(how)
    # WHEN serve records the pass
    registry = CollectorRegistry()
    ReconcilerMetrics(registry).observe_pass(
        summary,
        1.0,
        finished_at=1.0,
        outcome=summary.outcome,
        consecutive_failures=0,
        drift_streak=1,
    )
    moved = {
        label
        for label in CORRECTION_OUTCOMES
        if registry.get_sample_value("reconciler_corrections_total", {"outcome": label})
    }
    # THEN the audit record, its hold and the one label that moved all say the same word
    (record,) = audit.records
    assert moved == {word}
    assert (record.outcome, record.hold) == (word, word)
    assert summary.to_dict()["hold"] == word


def test_an_applied_correction_is_audited_with_the_applied_label():
    table = FakeReconcileTable()
    table.add_event("tech", 9, attendees=7)
    clock = FakeClock()
    audit = RecordingAuditSink()
    reconciler = Reconciler(
        events=table,
        table=table,
        audit=audit,
        options=PassOptions(120.0, 1, NO_BRAKE),
        clock=clock,
        sleep=clock.sleep,
    )
    summary = reconciler.run_pass()
    (record,) = audit.records
    assert (record.outcome, record.hold) == ("applied", None)
    assert summary.correction_outcomes()[CorrectionOutcome(record.outcome)] == 1
    assert summary.hold is None
