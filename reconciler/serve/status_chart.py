"""The status page's chart of drift per pass, drawn as inline SVG on the server.

Why SVG from Python rather than a charting script: the page must work with no JavaScript and
no asset server, and fifty points with two lines need no library. Each pass is one ``<g
class="pass">`` holding its two markers and a ``<title>`` tooltip, so a browser test can count
the passes plotted, and a person hovering a point reads its numbers.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from html import escape

from reconciler.serve.status import PassRecord

WIDTH = 720
HEIGHT = 220
LEFT, RIGHT, TOP, BOTTOM = 44, 16, 16, 34
"""Margins: room for the y labels on the left and the first/last pass times below."""


def clock_time(timestamp: float) -> str:
    """UTC to the second: replicas in several zones must show one time."""
    return dt.datetime.fromtimestamp(timestamp, dt.UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@dataclass(frozen=True, slots=True)
class _Scale:
    count: int
    top: int
    """The largest value the y axis shows (at least 1, so a flat zero line sits at the bottom)."""

    def x(self, index: int) -> float:
        span = WIDTH - LEFT - RIGHT
        if self.count == 1:
            return LEFT + span / 2
        return LEFT + span * index / (self.count - 1)

    def y(self, value: int) -> float:
        span = HEIGHT - TOP - BOTTOM
        return TOP + span * (1 - value / self.top)


def _fmt(value: float) -> str:
    return f"{value:.1f}"


def _polyline(scale: _Scale, values: Sequence[int], css_class: str) -> str:
    points = " ".join(
        f"{_fmt(scale.x(index))},{_fmt(scale.y(value))}" for index, value in enumerate(values)
    )
    return f'<polyline class="{css_class}" points="{points}"/>'


def _marker(scale: _Scale, index: int, record: PassRecord) -> str:
    title = escape(
        f"{clock_time(record.finished_at)} {record.outcome.value}: "
        f"{record.drift_over} over, {record.drift_under} under, {record.corrected} corrected"
    )
    state = "" if record.completed else " incomplete"
    x = _fmt(scale.x(index))
    return (
        f'<g class="pass{state}"><title>{title}</title>'
        f'<circle class="over" cx="{x}" cy="{_fmt(scale.y(record.drift_over))}" r="3.5"/>'
        f'<circle class="under" cx="{x}" cy="{_fmt(scale.y(record.drift_under))}" r="3.5"/>'
        "</g>"
    )


def _axes(scale: _Scale, passes: Sequence[PassRecord]) -> str:
    bottom, right = HEIGHT - BOTTOM, WIDTH - RIGHT
    middle = scale.top // 2
    grid = [
        f'<line class="grid" x1="{LEFT}" y1="{_fmt(scale.y(value))}" x2="{right}" '
        f'y2="{_fmt(scale.y(value))}"/>'
        f'<text class="tick" x="{LEFT - 6}" y="{_fmt(scale.y(value) + 4)}" '
        f'text-anchor="end">{value}</text>'
        for value in sorted({0, middle, scale.top})
    ]
    first, last = clock_time(passes[0].finished_at), clock_time(passes[-1].finished_at)
    return (
        f'<line class="axis" x1="{LEFT}" y1="{bottom}" x2="{right}" y2="{bottom}"/>'
        + "".join(grid)
        + f'<text class="tick" x="{LEFT}" y="{HEIGHT - 10}">{first}</text>'
        + f'<text class="tick" x="{right}" y="{HEIGHT - 10}" text-anchor="end">{last}</text>'
    )


def drift_chart(passes: Sequence[PassRecord]) -> str:
    """Drifted events per pass, over and under, oldest on the left; empty without passes."""
    if not passes:
        return ""
    over = [record.drift_over for record in passes]
    under = [record.drift_under for record in passes]
    scale = _Scale(count=len(passes), top=max(1, *over, *under))
    markers = "".join(_marker(scale, index, record) for index, record in enumerate(passes))
    return (
        f'<svg class="chart" role="img" aria-labelledby="chart-title" width="{WIDTH}" '
        f'height="{HEIGHT}" viewBox="0 0 {WIDTH} {HEIGHT}" xmlns="http://www.w3.org/2000/svg">'
        '<title id="chart-title">Drifted events per pass</title>'
        + _axes(scale, passes)
        + _polyline(scale, over, "over")
        + _polyline(scale, under, "under")
        + markers
        + "</svg>"
    )


__all__ = ["clock_time", "drift_chart"]
