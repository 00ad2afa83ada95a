"""``reconciler demo`` end to end: its own moto server, real stream, real handler, a real
reconciliation pass, a short serve loop, and a hot event broken and repaired while its
registrations continue."""

from __future__ import annotations

import io

import pytest

from reconciler.devtools.demo import (
    DEMO_EVENTS,
    HOT_EVENT,
    ORPHAN_SLUG,
    DemoOptions,
    DemoResult,
    run_demo,
)
from reconciler.devtools.pump import FaultPlan, PumpConfig

FAST = {"settle_seconds": 0.3, "serve_seconds": 0.0, "hot": False}
HOT_FAST = {
    "settle_seconds": 0.3,
    "serve_seconds": 0.0,
    "hot_interval": 0.05,
    "hot_warmup": 0.4,
    "hot_batching_window": 0.2,
    "hot_settle_seconds": 0.8,
}

pytestmark = pytest.mark.xdist_group("demo")
"""One worker runs the module, so the demo with its hot acts runs once for the tests sharing it."""


@pytest.fixture(scope="module")
def demo() -> tuple[DemoResult, str]:
    out = io.StringIO()
    result = run_demo(out, DemoOptions(**HOT_FAST))  # type: ignore[arg-type]
    return result, out.getvalue()


def test_demo_breaks_counters_then_repairs_every_one(demo: tuple[DemoResult, str]) -> None:
    result, text = demo

    # the live path really drifted: duplicates absorbed, dropped batches and a hand edit not
    assert result.pump.duplicated_batches == 3
    assert result.pump.injected_drops == 2
    assert result.handler.get("DuplicateRecordsSkipped") > 0
    assert result.handler.get("OrphanRecords") > 0
    drifted_before = [row for row in result.rows if not row.in_sync]
    assert DEMO_EVENTS[0] in {row.key for row in drifted_before}  # the hand-edited one
    assert len(drifted_before) >= 2
    # the pass corrected exactly those, and the final table is exact
    assert result.summary is not None
    assert result.summary.corrected == len(drifted_before)
    assert {record.sort_key for record in result.corrections} == {
        row.key.sort_key for row in drifted_before
    }
    assert result.all_in_sync
    assert all(row.in_sync for row in result.repaired)
    assert sum(row.true for row in result.repaired) > 0
    for key in DEMO_EVENTS:
        assert key.sort_key in text
    assert ORPHAN_SLUG in text
    assert "DRIFT +11" in text
    assert text.rstrip().endswith("Every counter is exact.")


def test_without_reconciliation_faults_would_stay_visible() -> None:
    out = io.StringIO()
    result = run_demo(
        out,
        DemoOptions(faults=FaultPlan(drop_batches=frozenset({2})), hand_edit=None, **FAST),  # type: ignore[arg-type]
    )
    assert not all(row.in_sync for row in result.rows)
    assert "DRIFT -" in out.getvalue()
    assert result.all_in_sync  # ... and the pass repaired them


def test_demo_serves_metrics_for_a_few_seconds() -> None:
    out = io.StringIO()
    result = run_demo(
        out, DemoOptions(settle_seconds=0.3, serve_seconds=2.5, serve_every=1.0, hot=False)
    )
    assert result.serve is not None
    assert result.serve.clean_shutdown
    assert result.serve.values['reconciler_runs_total{outcome="success"}'] >= 1
    assert result.serve.values["reconciler_events_checked_total"] >= len(DEMO_EVENTS)
    assert result.serve.values["reconciler_events_in_drift"] == 0
    assert "/metrics" in out.getvalue()


def test_a_hot_events_dropped_batch_and_hand_edit_are_repaired_while_its_registrations_continue(
    demo: tuple[DemoResult, str],
) -> None:
    result, text = demo
    hot = result.hot
    assert hot is not None
    drop = hot.drop

    # one batch failed on every attempt; the mapping dropped it and told the queue
    assert drop.records > 0
    assert drop.invocations == PumpConfig().max_retries + 1
    assert drop.messages == 1
    assert drop.broken.drift == -drop.records
    # the real replay read that range back, applied it and deleted the message
    assert (drop.replay.messages, drop.replay.replayed) == (1, 1)
    assert drop.replay.records_replayed >= drop.records
    assert drop.replay.trimmed == drop.replay.failed == 0
    assert drop.repaired.exact
    assert drop.repaired.true > drop.broken.true  # registrations went on meanwhile

    # the hand edit was repaired by ledger-mode passes, the traffic thread still running
    edit = hot.edit
    assert edit.broken.drift > 0
    assert sum(step.summary.counter_repairs for step in edit.passes) >= 1
    assert all(step.summary.ledger_events == 1 for step in edit.passes)
    assert edit.repaired_under_traffic
    assert all(step.traffic_alive for step in edit.passes)
    assert sum(step.registrations_during for step in edit.passes) > 0

    # once the traffic stopped, every counter, the hot one included, is exact
    final = {row.key: row for row in result.final}
    assert set(final) == {*DEMO_EVENTS, HOT_EVENT}
    assert all(row.in_sync for row in final.values())
    assert final[HOT_EVENT].true == hot.registrations
    assert hot.traffic_failure is None
    assert result.all_in_sync

    assert "4. A hot event loses a batch" in text
    assert "after the replay" in text
    assert "5. A hot event's counter edited by hand" in text
    assert "after pass 1" in text
    assert "6. Final table" in text
    assert "@example.com" not in text
    assert text.rstrip().endswith("Every counter is exact.")


def test_demo_command_exits_zero_and_prints_the_tables(capsys: pytest.CaptureFixture[str]) -> None:
    from reconciler.cli import main

    assert main(["demo"], env={}) == 0
    out, err = capsys.readouterr()
    # Its warnings (the drops it injects and narrates) read as lines even when not on a TTY.
    assert "pump_batch_dropped_injected" in err
    assert not [line for line in err.splitlines() if line.startswith("{")]
    assert "1. Live path" in out
    assert "2. Reconciliation" in out
    assert "3. Scheduled worker" in out
    assert "4. A hot event loses a batch" in out
    assert "5. A hot event's counter edited by hand" in out
    assert "ticket-rush#2025-03-01#conference" in out
    assert "tech-summit-2024#2024-10-27#conference" in out
