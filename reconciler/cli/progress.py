"""Live displays on a terminal, drawn with rich: ``run``'s progress (the pass's
:class:`PassProgress` port), ``replay``'s messages, and the spinner of ``doctor`` and ``alarms``.

A pass gets one row per phase, kept on screen once done so the whole pass reads top to bottom:
the sweep (events done of the total when it is known, the rate, the time left), the settle
countdown (120 s by default, which used to pass in silence), the second looks, then the writes
(or the planned corrections of a dry run). Log lines written meanwhile are printed above the
rows.
"""

from __future__ import annotations

import contextlib
import logging
import sys
from collections.abc import Callable, Iterator
from datetime import timedelta

from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    ProgressColumn,
    SpinnerColumn,
    Task,
    TaskID,
    TextColumn,
)
from rich.text import Text

from reconciler.cli.human import plural
from reconciler.handler.replay_queue import ReplaySummary

COUNTDOWN = "countdown"
"""A task field: the task counts seconds, and its figures are the seconds left."""


class FiguresColumn(ProgressColumn):
    """Done of total, rate and time left for a counted phase; seconds left for the settle wait.
    rich estimates the rate and the time left from its own samples of the task."""

    def render(self, task: Task) -> Text:
        if task.fields.get(COUNTDOWN):
            left = max(0.0, (task.total or 0.0) - task.completed)
            return Text("done" if task.finished else f"{left:.0f} s left", style="cyan")
        total = "?" if task.total is None else f"{task.total:.0f}"
        figures = [f"{task.completed:.0f}/{total}"]
        if task.speed:
            figures.append(f"{task.speed:.1f}/s")
        remaining = task.time_remaining
        if remaining is not None and not task.finished:
            figures.append(f"ETA {timedelta(seconds=round(remaining))}")
        return Text("  ".join(figures), style="cyan")


class RichPassProgress:
    """:class:`reconciler.reconcile.progress.PassProgress` on a rich :class:`Progress`; rich
    redraws from its own thread under its own lock, so the pass's calls need no more."""

    def __init__(self, bars: Progress) -> None:
        self._bars = bars
        self._sweep: TaskID | None = None
        self._settle: TaskID | None = None
        self._recheck: TaskID | None = None
        self._writes: TaskID | None = None
        self._export: TaskID | None = None

    def export_waiting(self, export_id: str, status: str, elapsed_seconds: float) -> None:
        label = f"export {export_id}: {status}, {timedelta(seconds=round(elapsed_seconds))}"
        if self._export is None:
            self._export = self._bars.add_task(label, total=None)
        done = status != "IN_PROGRESS"
        self._bars.update(self._export, description=label, total=1 if done else None)
        if done:
            self._bars.update(self._export, completed=1)

    def sweep_started(self, total: int | None) -> None:
        self._sweep = self._bars.add_task("sweep", total=total)

    def sweep_total(self, total: int) -> None:
        if self._sweep is not None:
            self._bars.update(self._sweep, total=total)

    def event_checked(self, events: int = 1) -> None:
        if self._sweep is not None:
            self._bars.advance(self._sweep, events)

    def settle_started(self, suspects: int, settle_seconds: float) -> None:
        self._finish(self._sweep, at_total=False)
        if suspects == 0:
            self._bars.add_task("settle: no suspect, no wait", total=1, completed=1)
            return
        self._settle = self._bars.add_task(
            f"settle {settle_seconds:g} s ({plural(suspects, 'suspect')})",
            total=settle_seconds,
            **{COUNTDOWN: True},
        )
        self._recheck = self._bars.add_task("second looks", total=suspects)

    def settling(self, remaining_seconds: float) -> None:
        # Only the wait for the first suspect is the countdown; the later ones (each suspect's
        # window ends as long after the first as its first look came) show in the second looks.
        settle = self._settle
        if settle is not None and not self._task(settle).finished:
            total = self._task(settle).total or 0.0
            self._bars.update(settle, completed=max(0.0, total - remaining_seconds))

    def suspect_rechecked(self) -> None:
        self._finish(self._settle)
        if self._recheck is not None:
            self._bars.advance(self._recheck)

    def writes_started(self, corrections: int, held: str | None) -> None:
        self._finish(self._settle)
        label = "writes" if held is None else f"planned, not written ({held})"
        self._writes = self._bars.add_task(label, total=corrections)

    def correction_done(self) -> None:
        if self._writes is not None:
            self._bars.advance(self._writes)

    def _task(self, task: TaskID) -> Task:
        return next(t for t in self._bars.tasks if t.id == task)

    def _finish(self, task: TaskID | None, *, at_total: bool = True) -> None:
        """A phase is over: its bar is full. The settle wait is full at its total; the sweep's
        total becomes what it really looked at (its total was unknown, or counted beforehand)."""
        if task is not None:
            state = self._task(task)
            total = state.total if at_total and state.total is not None else state.completed
            self._bars.update(task, total=total, completed=total)


@contextlib.contextmanager
def pass_progress(console: Console) -> Iterator[RichPassProgress]:
    """The display, live for the duration of the pass. Log lines go to stderr; when stderr is
    the same kind of terminal they are routed through rich (which prints them above the rows)
    instead of being drawn over the rows; redirected, they stay where they were sent."""
    bars = new_bars(console)
    with bars, _logs_through_rich():
        yield RichPassProgress(bars)


@contextlib.contextmanager
def working(message: str) -> Iterator[None]:
    """A spinner on stderr while a command waits on AWS; drawn only when stderr is a terminal,
    and erased when done, so it never reaches a log file or stdout."""
    with Console(stderr=True).status(message), _logs_through_rich():
        yield


@contextlib.contextmanager
def replay_progress(console: Console) -> Iterator[Callable[[ReplaySummary], None]]:
    """``replay``'s one row: messages handled (the queue's length is only approximate, so no
    total), how many went through and how many were kept; the callback takes the summary."""
    bars = new_bars(console)
    task = bars.add_task("messages", total=None)

    def handled(summary: ReplaySummary) -> None:
        kept = summary.trimmed + summary.failed
        through = (
            f"{summary.messages - kept} readable"
            if summary.dry_run
            else f"{summary.replayed} replayed"
        )
        bars.update(
            task, completed=summary.messages, description=f"messages: {through}, {kept} kept"
        )

    with bars, _logs_through_rich():
        try:
            yield handled
        finally:
            done = bars.tasks[0].completed
            bars.update(task, total=done, completed=done)


def new_bars(console: Console, *, auto_refresh: bool = True) -> Progress:
    """The rows' layout: spinner (a tick once done), phase, bar, figures."""
    return Progress(
        SpinnerColumn(finished_text="[green]✓"),
        TextColumn("{task.description:<34}"),
        BarColumn(bar_width=30),
        FiguresColumn(),
        console=console,
        auto_refresh=auto_refresh,
    )


@contextlib.contextmanager
def _logs_through_rich() -> Iterator[None]:
    """rich replaces ``sys.stderr`` with a proxy while it is live; the root log handler holds
    the stream it was configured with, so it is pointed at the proxy for that time."""
    terminal = sys.__stderr__
    if terminal is None or not terminal.isatty():
        yield
        return
    handlers = [
        handler
        for handler in logging.getLogger().handlers
        if isinstance(handler, logging.StreamHandler) and handler.stream is terminal
    ]
    for handler in handlers:
        handler.setStream(sys.stderr)
    try:
        yield
    finally:
        for handler in handlers:
            handler.setStream(terminal)
