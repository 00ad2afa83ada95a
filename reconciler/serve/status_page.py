"""The status page ``serve`` answers on ``/``: one pure function from a snapshot to HTML.

Server-rendered with inline CSS and an inline SVG chart, no script: it loads from the task's
port alone (no CDN, nothing to allow in a content policy) and reloads itself every
:data:`REFRESH_SECONDS` with a meta refresh. Every value that came from outside this module
(slugs, owner ids, run ids, brake reasons) goes through :func:`html.escape`.
"""

from __future__ import annotations

from collections.abc import Iterable
from html import escape

from reconciler.serve.metric_labels import Outcome
from reconciler.serve.status import CorrectionRecord, LeaderState, PassRecord, StatusSnapshot
from reconciler.serve.status_chart import clock_time, drift_chart

REFRESH_SECONDS = 30

_STYLE = """
body{font-family:"DejaVu Sans",sans-serif;margin:24px;color:#1d2330;background:#f6f7f9}
h1{font-size:22px;margin:0 0 4px}h2{font-size:17px;margin:24px 0 8px}
.meta{color:#5b6372;font-size:13px;margin:0}
.cards{display:flex;gap:12px;flex-wrap:wrap;margin-top:16px}
.card{background:#fff;border:1px solid #d9dde4;border-radius:6px;padding:10px 14px;min-width:150px}
.card .label{font-size:12px;color:#5b6372;text-transform:uppercase}
.card .value{font-size:16px;font-weight:bold;margin-top:4px}
.card .detail{font-size:12px;color:#5b6372;margin-top:2px}
.good{color:#1a7f37}.warn{color:#9a6700}.bad{color:#cf222e}
table{border-collapse:collapse;background:#fff;font-size:13px}
th,td{border:1px solid #d9dde4;padding:4px 8px;text-align:right;white-space:nowrap}
th{background:#eef0f3}td.text,th.text{text-align:left}
.chart{background:#fff;border:1px solid #d9dde4;border-radius:6px}
.chart .axis{stroke:#5b6372}.chart .grid{stroke:#e3e6eb}
.chart .tick{font-size:11px;fill:#5b6372}
.chart polyline{fill:none;stroke-width:2}
.chart polyline.over,.chart circle.over{stroke:#cf222e}
.chart polyline.under,.chart circle.under{stroke:#0969da}
.chart circle{fill:#fff;stroke-width:2}.chart .incomplete circle{stroke-dasharray:2 2}
.legend{font-size:13px;margin:4px 0}.legend .over{color:#cf222e}.legend .under{color:#0969da}
ul.slugs{background:#fff;border:1px solid #d9dde4;border-radius:6px;padding:8px 28px;margin:0}
ul.slugs li{font-size:13px;margin:2px 0}code{font-size:13px}
"""

_OUTCOME_CLASS = {
    Outcome.SUCCESS: "good",
    Outcome.BRAKE: "bad",
    Outcome.FAILURE: "bad",
    Outcome.ABORTED: "warn",
}


def _card(label: str, value: str, css_class: str, detail: str = "") -> str:
    more = f'<div class="detail">{escape(detail)}</div>' if detail else ""
    return (
        f'<div class="card" id="{label.lower().replace(" ", "-")}">'
        f'<div class="label">{escape(label)}</div>'
        f'<div class="value {css_class}">{escape(value)}</div>{more}</div>'
    )


def _leader_card(state: LeaderState) -> str:
    if state.owner is None:
        return _card("Leader", "this replica", "good", "no lease: the only replica")
    if state.leads:
        return _card("Leader", "this replica", "good", f"holds the lease as {state.owner}")
    holder = f"lease held by {state.holder}" if state.holder else "lease not held by anyone"
    return _card("Leader", "standby", "warn", f"{holder}; this replica is {state.owner}")


def _state_cards(snapshot: StatusSnapshot) -> str:
    running = snapshot.pass_in_progress
    brake = snapshot.brake_reason
    last = snapshot.passes[-1] if snapshot.passes else None
    return (
        '<div class="cards">'
        + _leader_card(snapshot.leader)
        + _card(
            "Last pass",
            last.outcome.value if last else "none yet",
            _OUTCOME_CLASS[last.outcome] if last else "warn",
            f"finished {clock_time(last.finished_at)}" if last else "",
        )
        + _card("Pass running", "yes" if running else "no", "good")
        + _card(
            "Corrections",
            "paused" if snapshot.paused else "active",
            "warn" if snapshot.paused else "good",
            "the stream handler is behind (lag gate)" if snapshot.paused else "",
        )
        + _card(
            "Brake",
            "tripped" if brake else "released",
            "bad" if brake else "good",
            brake or "",
        )
        + "</div>"
    )


def _cells(values: Iterable[str | int]) -> str:
    return "".join(f"<td>{escape(str(value))}</td>" for value in values)


def _pass_row(record: PassRecord) -> str:
    return (
        '<tr class="pass-row">'
        f'<td class="text">{clock_time(record.finished_at)}</td>'
        f'<td class="text {_OUTCOME_CLASS[record.outcome]}">{record.outcome.value}</td>'
        + _cells(
            (
                f"{record.duration_seconds:.1f} s",
                record.events_checked,
                record.drift_over,
                record.drift_under,
                record.corrected,
            )
        )
        + "</tr>"
    )


def _passes_table(passes: tuple[PassRecord, ...]) -> str:
    if not passes:
        return '<p class="meta">No pass has finished since this replica started.</p>'
    rows = "".join(_pass_row(record) for record in reversed(passes))
    head = "".join(
        f"<th{css}>{name}</th>"
        for name, css in (
            ("Finished (UTC)", ' class="text"'),
            ("Outcome", ' class="text"'),
            ("Duration", ""),
            ("Events checked", ""),
            ("Drift over", ""),
            ("Drift under", ""),
            ("Corrected", ""),
        )
    )
    return f'<table id="passes"><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>'


def _corrections_list(corrections: tuple[CorrectionRecord, ...]) -> str:
    if not corrections:
        return '<p class="meta">No correction since this replica started.</p>'
    items = "".join(
        f'<li><code class="slug">{escape(record.slug)}</code> '
        f'<span class="meta">{clock_time(record.finished_at)}, run '
        f"{escape(record.run_id)}</span></li>"
        for record in reversed(corrections)
    )
    return f'<ul class="slugs" id="corrections">{items}</ul>'


def _chart_section(passes: tuple[PassRecord, ...]) -> str:
    if not passes:
        return ""
    return (
        "<h2>Drift per pass</h2>"
        '<p class="legend"><span class="over">&#9679; stored too high (over)</span> &nbsp; '
        '<span class="under">&#9679; stored too low (under)</span> &nbsp; '
        "dashed: pass did not complete</p>" + drift_chart(passes)
    )


def render_status(snapshot: StatusSnapshot) -> str:
    """The whole page; newest first in the table and the list, oldest left in the chart."""
    return (
        "<!DOCTYPE html>"
        '<html lang="en"><head><meta charset="utf-8">'
        f'<meta http-equiv="refresh" content="{REFRESH_SECONDS}">'
        '<meta name="viewport" content="width=device-width, initial-scale=1">'
        f"<title>Reconciler status</title><style>{_STYLE}</style></head><body>"
        "<h1>Reconciler status</h1>"
        f'<p class="meta">version {escape(snapshot.version)} &middot; as of '
        f"{clock_time(snapshot.now)} &middot; the last {len(snapshot.passes)} passes of this "
        'replica since it started; <a href="metrics">/metrics</a></p>'
        + _state_cards(snapshot)
        + _chart_section(snapshot.passes)
        + "<h2>Last passes</h2>"
        + _passes_table(snapshot.passes)
        + "<h2>Last corrections</h2>"
        + _corrections_list(snapshot.corrections)
        + "</body></html>"
    )


__all__ = ["REFRESH_SECONDS", "render_status"]
