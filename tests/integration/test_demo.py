"""``reconciler demo`` end to end: its own moto server, real stream, real handler, a real
reconciliation pass and a short serve loop."""

from __future__ import annotations

import io

import pytest

from reconciler.devtools.demo import DEMO_EVENTS, ORPHAN_SLUG, DemoOptions, run_demo
from reconciler.devtools.pump import FaultPlan

FAST = {"settle_seconds": 0.3, "serve_seconds": 0.0}


def test_demo_breaks_counters_then_repairs_every_one() -> None:
    out = io.StringIO()
    result = run_demo(out, DemoOptions(**FAST))  # type: ignore[arg-type]
    text = out.getvalue()

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
    result = run_demo(out, DemoOptions(settle_seconds=0.3, serve_seconds=2.5, serve_every=1.0))
    assert result.serve is not None
    assert result.serve.clean_shutdown
    assert result.serve.values['reconciler_runs_total{outcome="success"}'] >= 1
    assert result.serve.values["reconciler_events_checked_total"] >= len(DEMO_EVENTS)
    assert result.serve.values["reconciler_events_in_drift"] == 0
    assert "/metrics" in out.getvalue()


def test_demo_command_exits_zero_and_prints_the_tables(capsys: pytest.CaptureFixture[str]) -> None:
    from reconciler.cli import main

    assert main(["demo", "--log-level", "error"], env={}) == 0
    out = capsys.readouterr().out
    assert "1. Live path" in out
    assert "2. Reconciliation" in out
    assert "3. Scheduled worker" in out
    assert "tech-summit-2024#2024-10-27#conference" in out
