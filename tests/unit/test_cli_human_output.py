"""What a person sees on a terminal: the pass's progress rows (sweep, settle countdown, second
looks, writes), the result table and its verdict, and plurals that agree with their numbers.
Drawn by rich on a console forced to behave as a terminal, into a string."""

from __future__ import annotations

import io
import re
from collections.abc import Callable

from rich.console import Console

from reconciler.cli.doctor import render
from reconciler.cli.human import plural, print_pass
from reconciler.cli.progress import RichPassProgress, new_bars
from reconciler.doctor.checks import CheckResult
from reconciler.reconcile.core import Hold
from reconciler.reconcile.summary import PassSummary

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")


def terminal() -> tuple[Console, io.StringIO]:
    screen = io.StringIO()
    return Console(file=screen, force_terminal=True, width=120), screen


def shown(screen: io.StringIO) -> str:
    return ANSI.sub("", screen.getvalue())


def drawn(steps: Callable[[RichPassProgress], None]) -> str:
    """The rows as they stand after ``steps``, drawn once more when the display stops."""
    console, screen = terminal()
    bars = new_bars(console, auto_refresh=False)
    with bars:
        steps(RichPassProgress(bars))
        bars.refresh()
    return shown(screen)


def test_the_sweep_row_shows_events_done_of_the_total():
    def steps(display: RichPassProgress) -> None:
        display.sweep_started(40)
        for _ in range(10):
            display.event_checked()

    assert re.search(r"sweep\s.*10/40", drawn(steps))


def test_the_settle_wait_is_a_countdown_of_seconds_left():
    def steps(display: RichPassProgress) -> None:
        display.sweep_started(None)
        display.event_checked()
        display.settle_started(1, 120.0)
        display.settling(87.0)

    assert re.search(r"settle 120 s \(1 suspect\)\s.*87 s left", drawn(steps))


def test_every_phase_keeps_its_row_once_the_pass_is_over():
    def steps(display: RichPassProgress) -> None:
        display.sweep_started(None)
        for _ in range(3):
            display.event_checked()
        display.settle_started(2, 120.0)
        display.settling(120.0)
        display.suspect_rechecked()
        display.suspect_rechecked()
        display.writes_started(2, None)
        display.correction_done()
        display.correction_done()

    final = drawn(steps).split("sweep")[-1]
    assert "3/3" in final
    assert re.search(r"settle 120 s \(2 suspects\)\s.*done", final)
    assert re.search(r"second looks\s.*2/2", final)
    assert re.search(r"writes\s.*2/2", final)


def test_a_dry_runs_writes_row_says_they_are_planned_not_written():
    def steps(display: RichPassProgress) -> None:
        display.sweep_started(1)
        display.event_checked()
        display.settle_started(0, 120.0)
        display.writes_started(0, "dry_run")

    text = drawn(steps)
    assert "settle: no suspect, no wait" in text
    assert "planned, not written (dry_run)" in text


def test_the_result_table_shows_the_figures_and_a_verdict():
    console, screen = terminal()
    summary = PassSummary(
        run_id="r1", events_checked=40, in_sync=37, drifted=3, drift_under=3, confirmed=3
    )
    summary.corrected = 1
    print_pass(console, summary)
    text = shown(screen)
    assert re.search(r"events checked\s*│\s*40", text)
    assert re.search(r"drifted\s*│\s*3\s*│\s*0 over, 3 under", text)
    assert "conflicts" not in text  # rows that stayed zero are left out
    assert text.rstrip().endswith("done: 1 counter corrected")


def test_a_dry_runs_verdict_says_nothing_was_written():
    console, screen = terminal()
    summary = PassSummary(run_id="r1", events_checked=5, planned=2, hold=Hold.DRY_RUN)
    print_pass(console, summary)
    assert shown(screen).rstrip().endswith("dry run: 2 corrections planned, none written")


def test_plurals_agree_with_their_numbers():
    assert [plural(n, "warning") for n in (0, 1, 2)] == ["0 warnings", "1 warning", "2 warnings"]
    assert plural(1, "change") == "1 change"
    assert plural(3, "entry", "entries") == "3 entries"


def test_the_doctors_last_line_says_1_warning_not_1_warnings():
    results = [
        CheckResult("table-exists", "pass", "table registrations exists"),
        CheckResult("stream-view", "warn", "NEW_IMAGE only", fix="use NEW_AND_OLD_IMAGES"),
    ]
    out = io.StringIO()
    render(results, out, as_json=False)
    assert (
        out.getvalue().splitlines()[-1] == "doctor: OK (1 passed, 1 warning, 0 failed, 0 skipped)"
    )


def test_the_export_row_shows_the_export_its_status_and_the_time_waited():
    def steps(display: RichPassProgress) -> None:
        display.export_waiting("01700000000000-feedbeef", "IN_PROGRESS", 0.0)
        display.export_waiting("01700000000000-feedbeef", "IN_PROGRESS", 65.2)

    assert "export 01700000000000-feedbeef: IN_PROGRESS, 0:01:05" in drawn(steps)

    def done(display: RichPassProgress) -> None:
        steps(display)
        display.export_waiting("01700000000000-feedbeef", "COMPLETED", 312.0)
        display.sweep_started(None)

    assert re.search(r"export 01700000000000-feedbeef: COMPLETED, 0:05:12\s.*1/1", drawn(done))
