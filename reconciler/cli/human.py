"""Output for a person at a terminal, and the rule that decides between it and JSON.

A command prints for a person only when its stdout is a terminal and ``--json`` was not given;
anything else (a pipe, a file, a CI log, ``--json``) gets exactly one JSON document on stdout,
which scripts parse. Logs go to stderr either way.
"""

from __future__ import annotations

from typing import TextIO

from rich.console import Console
from rich.table import Table

from reconciler.handler.replay_queue import ReplaySummary
from reconciler.reconcile.summary import NO_EVENTS_HINT, PassOutcome, PassSummary, StopReason


def for_a_person(stream: TextIO, as_json: bool) -> bool:
    """Human output: a terminal on stdout and no ``--json``."""
    return not as_json and stream.isatty()


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 warning``, ``2 warnings``; ``many`` for the irregular ones."""
    return f"{count} {word if count == 1 else many or word + 's'}"


def pass_table(summary: PassSummary) -> Table:
    """The figures a person checks after a pass; the JSON (``--json``) has every one."""
    table = Table(title=f"pass {summary.run_id}", show_header=False, title_justify="left")
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    table.add_column("detail", style="dim")
    rows: list[tuple[str, int | str, str]] = [
        ("events checked", summary.events_checked, summary.sweep or ""),
        ("in sync", summary.in_sync, ""),
        (
            "drifted",
            summary.drifted,
            f"{summary.drift_over} over, {summary.drift_under} under",
        ),
        ("missing counter", summary.missing, ""),
        ("invalid counter", summary.invalid, ""),
        ("ambiguous slug", summary.ambiguous, "never written: see the log"),
        ("unsupported version", summary.unsupported, ""),
        ("vanished", summary.vanished, "deleted during the pass"),
        ("in flux", summary.in_flux, "changed between the looks: next pass"),
        ("confirmed", summary.confirmed, ""),
        ("corrected", summary.corrected, ""),
        ("planned, not written", summary.planned, summary.hold.value if summary.hold else ""),
        ("conflicts", summary.conflicts, "refused writes: next pass"),
        ("key repairs", summary.key_repairs_missing + summary.key_repairs_extra, "ledger"),
    ]
    always = {"events checked", "in sync", "drifted", "confirmed", "corrected"}
    for name, value, detail in rows:
        if name in always or value:
            table.add_row(name, str(value), detail)
    table.add_row(
        "read / write units",
        f"{summary.io.read_units:.1f} / {summary.io.write_units:.1f}",
        "",
    )
    table.add_row("duration", f"{summary.duration_seconds:.1f} s", "")
    return table


def pass_verdict(summary: PassSummary) -> str:
    """One line saying what the pass did to the table, in rich markup."""
    if summary.failed:
        return f"[red bold]failed[/]: {summary.error}"
    if summary.stop is StopReason.STOPPED_EARLY:
        return f"[yellow bold]stopped before the pass completed[/] ({summary.stopped_by})"
    if summary.brake_tripped:
        return (
            f"[red bold]brake tripped[/]: {summary.brake.reason}; "
            f"{plural(summary.planned, 'correction')} planned, none written"
        )
    if summary.hold is not None:
        return (
            f"[yellow]{summary.hold.value.replace('_', ' ')}[/]: "
            f"{plural(summary.planned, 'correction')} planned, none written"
        )
    if summary.outcome is PassOutcome.EMPTY:
        return f"[yellow]no event found[/]; check {NO_EVENTS_HINT}"
    done = (
        f"{plural(summary.corrected, 'counter')} corrected"
        if summary.corrected
        else "no counter needed a correction"
    )
    left = summary.in_flux + summary.conflicts
    return f"[green]done[/]: {done}" + (f"; {left} left to the next pass" if left else "")


def print_pass(console: Console, summary: PassSummary) -> None:
    console.print(pass_table(summary))
    console.print(pass_verdict(summary))


def print_replay(console: Console, summary: ReplaySummary, applied: int, duplicates: int) -> None:
    """``replay``'s result: what went through the handler, what stayed on the queue and why."""
    table = Table(title="replay", show_header=False, title_justify="left")
    table.add_column("figure", style="bold")
    table.add_column("value", justify="right")
    table.add_column("detail", style="dim")
    table.add_row("messages", str(summary.messages), "")
    table.add_row("replayed", str(summary.replayed), "deleted from the queue")
    table.add_row("records", str(summary.records_replayed), f"{summary.records_read} read")
    table.add_row("counter updates", str(applied), f"{duplicates} duplicates skipped")
    table.add_row("kept: left the stream", str(summary.trimmed), "see the runbook")
    table.add_row("kept: malformed or refused", str(summary.failed), "see the log")
    console.print(table)
    kept = summary.trimmed + summary.failed
    if summary.dry_run:
        console.print(
            f"[yellow]dry run[/]: {plural(summary.messages - kept, 'message')} readable, "
            "nothing written or deleted" + (f", {kept} unreadable" if kept else "")
        )
    elif kept:
        console.print(f"[red bold]{plural(kept, 'message')} kept[/] on the queue")
    else:
        console.print(f"[green]done[/]: {plural(summary.replayed, 'message')} replayed")


__all__ = [
    "for_a_person",
    "pass_table",
    "pass_verdict",
    "plural",
    "print_pass",
    "print_replay",
]
