"""The Grafana dashboard of ``reconciler serve``'s Prometheus metrics, as plain JSON.

A few dozen lines of Python instead of a Grafana SDK: the dashboard is a list of PromQL
expressions under titles, and its JSON model is stable. ``python -m deploy.grafana.dashboard``
writes ``deploy/grafana/reconciler.json`` (import it, or provision it); a test keeps the file
equal to what this module builds, and runs every expression against a real Prometheus.

Every expression selects ``job=~"$job"`` and, for counters, ``[$__rate_interval]``: the only
two template variables besides the data source.
"""

from __future__ import annotations

import json
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

UID = "attendee-counter-reconciler"
OUTPUT = Path(__file__).with_name("reconciler.json")
DATASOURCE = {"type": "prometheus", "uid": "${datasource}"}
J = '{job=~"$job"}'
"""The job selector every expression carries."""
W = "[$__rate_interval]"
"""The range of every ``increase``: the counters step once per pass."""

PanelKind = Literal["timeseries", "stat"]


@dataclass(frozen=True, slots=True)
class Query:
    expr: str
    legend: str


@dataclass(frozen=True, slots=True)
class Panel:
    title: str
    description: str
    queries: tuple[Query, ...]
    unit: str = "short"
    kind: PanelKind = "timeseries"


def q(expr: str, legend: str) -> Query:
    return Query(expr, legend)


def per_pass(metric: str, by: str) -> Query:
    """A counter's increase per ``$__rate_interval``, split by one label."""
    return q(f"sum by ({by}) (increase({metric}{J}{W}))", f"{{{{{by}}}}}")


def ratio_stat(title: str, description: str, expr: str) -> Panel:
    """A single number per job, shown as a percentage."""
    return Panel(title, description, (q(expr, "{{job}}"),), unit="percentunit", kind="stat")


ROWS: tuple[tuple[str, tuple[Panel, ...]], ...] = (
    (
        "Exactness SLO (99.9% of checked events exact over 30 days)",
        (
            ratio_stat(
                "Events exact, 30 days",
                "Share of checked events found in sync rather than confirmed wrong (the SLI).",
                f"1 - job:reconciler_exactness_errors:ratio_rate30d{J}",
            ),
            ratio_stat(
                "Error budget left, 30 days",
                "1: untouched, 0: spent. deploy/prometheus/slo.yml records it.",
                f"job:reconciler_exactness_error_budget_remaining:ratio30d{J}",
            ),
            Panel(
                "Burn rate by window",
                "Error ratio over the objective's 0.1%: 1 spends the budget in exactly 30 days. "
                "The fast-burn page needs 14.4 (1h with 5m) or 6 (6h with 30m).",
                tuple(
                    q(f"job:reconciler_exactness_errors:ratio_rate{window}{J} / 0.001", window)
                    for window in ("5m", "1h", "6h", "3d")
                ),
            ),
        ),
    ),
    (
        "Passes",
        (
            Panel(
                "Passes by outcome",
                "Finished passes: success, failure, brake, aborted.",
                (per_pass("reconciler_runs_total", "outcome"),),
            ),
            Panel(
                "Pass duration (p90)",
                "Wall time of a pass, settle wait included.",
                (
                    q(
                        "histogram_quantile(0.9, sum by (le) "
                        f"(rate(reconciler_run_duration_seconds_bucket{J}[1h])))",
                        "p90",
                    ),
                ),
                unit="s",
            ),
            Panel(
                "Since the last successful pass",
                "ReconcilerNoRecentSuccess fires past 2.5 schedule intervals.",
                (
                    q(
                        f"time() - max by (job) (reconciler_last_success_timestamp_seconds{J})",
                        "{{job}}",
                    ),
                    q(f"max by (job) (reconciler_schedule_interval_seconds{J})", "interval"),
                ),
                unit="s",
            ),
            Panel(
                "Leader and state",
                "Leader per replica; corrections paused by the lag gate; brake tripped.",
                (
                    q(f"max by (instance) (reconciler_leader{J})", "leader {{instance}}"),
                    q(f"max by (job) (reconciler_corrections_paused{J})", "paused"),
                    q(f"max by (job) (reconciler_brake_tripped{J})", "brake"),
                ),
            ),
        ),
    ),
    (
        "Drift and corrections",
        (
            Panel(
                "Events checked",
                "Events a pass looked at, by how: ledger, classic recount, or the scan alone.",
                (
                    q(f"sum by (job) (increase(reconciler_events_checked_total{J}{W}))", "all"),
                    per_pass("reconciler_events_by_mode_total", "mode"),
                ),
            ),
            Panel(
                "Drift found",
                "Drifted events by direction: over (stored too high), under.",
                (per_pass("reconciler_drift_detected_total", "direction"),),
            ),
            Panel(
                "Events in drift (last pass)",
                "Drifted events the last complete pass found.",
                (q(f"max by (job) (reconciler_events_in_drift{J})", "{{job}}"),),
            ),
            Panel(
                "Corrections by outcome",
                "applied, conflict, in_flux, dry_run, braked, paused.",
                (per_pass("reconciler_corrections_total", "outcome"),),
            ),
            Panel(
                "Ledger key repairs",
                "Ledger entries repaired with their counter: missing (+1), extra (-1).",
                (per_pass("reconciler_key_repairs_total", "direction"),),
            ),
        ),
    ),
    (
        "Cost, AWS and the handler",
        (
            Panel(
                "Read capacity consumed",
                "DynamoDB read units the passes consumed.",
                (q(f"sum by (job) (increase(reconciler_consumed_read_units_total{J}{W}))", "RCU"),),
            ),
            Panel(
                "AWS errors",
                "Failed AWS attempts, retried ones included (0 when there were none).",
                (
                    q(
                        f"sum(increase(reconciler_aws_errors_total{J}{W})) or vector(0)",
                        "errors",
                    ),
                ),
            ),
            Panel(
                "Handler iterator age (lag gate)",
                "The stream handler's IteratorAge as the lag gate last read it (-1: unknown).",
                (q(f"max by (job) (reconciler_handler_iterator_age_seconds{J})", "{{job}}"),),
                unit="s",
            ),
            Panel(
                "On-failure replays",
                "Messages the replay handled (--on-failure-queue-url), and those it kept.",
                (
                    per_pass("reconciler_replay_messages_total", "outcome"),
                    q(f"max by (job) (reconciler_replay_kept_messages{J})", "kept"),
                ),
            ),
        ),
    ),
)


def expressions() -> tuple[str, ...]:
    """Every PromQL expression of the dashboard, in panel order."""
    return tuple(query.expr for _, panels in ROWS for panel in panels for query in panel.queries)


def _panel(panel: Panel, panel_id: int, x: int, y: int) -> dict[str, Any]:
    width = 8 if panel.kind == "stat" else 12
    return {
        "id": panel_id,
        "type": panel.kind,
        "title": panel.title,
        "description": panel.description,
        "datasource": DATASOURCE,
        "gridPos": {"h": 8, "w": width, "x": x, "y": y},
        "fieldConfig": {"defaults": {"unit": panel.unit}, "overrides": []},
        "options": {},
        "targets": [
            {
                "datasource": DATASOURCE,
                "expr": query.expr,
                "legendFormat": query.legend,
                "refId": chr(ord("A") + index),
            }
            for index, query in enumerate(panel.queries)
        ],
    }


def _panels(rows: Sequence[tuple[str, Sequence[Panel]]]) -> list[dict[str, Any]]:
    built: list[dict[str, Any]] = []
    y = 0
    for title, panels in rows:
        built.append(
            {
                "id": len(built) + 1,
                "type": "row",
                "title": title,
                "collapsed": False,
                "gridPos": {"h": 1, "w": 24, "x": 0, "y": y},
                "panels": [],
            }
        )
        y += 1
        x = 0
        for panel in panels:
            width = 8 if panel.kind == "stat" else 12
            if x + width > 24:
                x, y = 0, y + 8
            built.append(_panel(panel, len(built) + 1, x, y))
            x += width
        y += 8
    return built


def dashboard() -> dict[str, Any]:
    """The dashboard's JSON model, ready for Grafana's import or provisioning."""
    return {
        "uid": UID,
        "title": "Attendee counter reconciler",
        "description": "reconciler serve: passes, drift, corrections and the exactness SLO. "
        "Built by deploy/grafana/dashboard.py.",
        "tags": ["attendee-counter", "reconciler", "slo"],
        "timezone": "utc",
        "schemaVersion": 39,
        "version": 1,
        "editable": True,
        "refresh": "1m",
        "time": {"from": "now-24h", "to": "now"},
        "templating": {
            "list": [
                {
                    "name": "datasource",
                    "label": "Prometheus",
                    "type": "datasource",
                    "query": "prometheus",
                },
                {
                    "name": "job",
                    "label": "Job",
                    "type": "query",
                    "datasource": DATASOURCE,
                    "query": {"query": "label_values(reconciler_runs_total, job)"},
                    "definition": "label_values(reconciler_runs_total, job)",
                    "refresh": 1,
                    "includeAll": True,
                    "multi": True,
                    "current": {"text": "All", "value": "$__all"},
                },
            ]
        },
        "annotations": {"list": []},
        "panels": _panels(ROWS),
    }


def render() -> str:
    return json.dumps(dashboard(), indent=2) + "\n"


def main(argv: Sequence[str] = ()) -> int:
    """Write the dashboard, or with ``--check`` fail if the file is not what would be written."""
    if "--check" in argv:
        return 0 if OUTPUT.read_text() == render() else 1
    OUTPUT.write_text(render())
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
