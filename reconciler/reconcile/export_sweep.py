"""The first look of a pass taken from a point-in-time export (``run --from-export``).

The snapshot replaces the sweep's reads: each event's counter and its attendee count come from
the export, so the sweep consumes no read units. Every row becomes a first look dated at the
export time, translated to the pass's monotonic clock, and goes through the same tally as a
live first look; the pass then rechecks the suspects live as usual, no earlier than the export
time plus the settle window, and :func:`reconciler.reconcile.core.confirm` corrects only those
whose live look agrees with the snapshot (see :mod:`reconciler.reconcile.export_core`).
A suspect whose event has a backfilled ledger goes to the ledger path's own live first look.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, Protocol

from reconciler.kernel.logs import get_logger
from reconciler.kernel.model import EventKey
from reconciler.reconcile.core import Observation
from reconciler.reconcile.export_core import InSyncEvents, SnapshotRows, SnapshotVerdict, judge
from reconciler.reconcile.export_manifest import Manifest
from reconciler.reconcile.ledger_tally import LedgerLook
from reconciler.reconcile.pass_control import PassStoppedError
from reconciler.reconcile.pass_state import PassState


class SnapshotSource(Protocol):
    """An export, verified and read: its manifest and one row per event slug.

    A source built for one ``--event`` yields that slug alone: the engine filters, since the
    events it counts in sync (:class:`InSyncEvents`) come as a number no one could filter
    afterwards."""

    @property
    def export_id(self) -> str: ...

    def open(self) -> tuple[Manifest, SnapshotRows]:
        """Raises an :class:`~reconciler.reconcile.export_manifest.ExportError` for an export
        that is partial or malformed (possibly only once the rows are read)."""
        ...


def monotonic_at(export_time: float, now_monotonic: float, now_wall: float) -> float:
    """The export's wall-clock instant (epoch seconds) on the pass's monotonic clock, so that
    ``recheck_due`` (instant + settle) is ``now + max(0, export + settle - wall now)`` once
    the wait treats a past due time as due."""
    return now_monotonic + (export_time - now_wall)


class ExportSweep:
    """Feeds the pass's first looks from ``source``."""

    def __init__(
        self,
        source: SnapshotSource,
        *,
        clock: Callable[[], float],
        wall: Callable[[], datetime],
        watch: Callable[[PassState], None] | None = None,
    ) -> None:
        """``watch`` hears of each pass before the source is opened (a source that requests
        an export waits for it with the pass's progress and stop requests)."""
        self._source = source
        self._clock = clock
        self._wall = wall
        self._watch = watch
        self._previous: str | None = None
        self._log = get_logger("reconciler.reconcile")

    def sweep(
        self,
        state: PassState,
        first_look: Callable[[Observation | LedgerLook], None],
        ledger_look: Callable[[EventKey], LedgerLook | None],
    ) -> None:
        """``ledger_look`` takes a live first look at a suspect whose event has a backfilled
        ledger (``None`` for the others): such a counter is kept against its ledger entries,
        not against a recount, so the ledger path checks it as in a live pass."""
        summary = state.summary
        summary.sweep = "export"
        if self._watch is not None:
            self._watch(state)
        manifest, rows = self._source.open()
        exported = manifest.summary.export_time
        at = monotonic_at(exported.timestamp(), self._clock(), self._wall().timestamp())
        report: dict[str, Any] = {
            "id": self._source.export_id,
            "time": exported.isoformat(timespec="milliseconds"),
            "items": manifest.summary.item_count,
            "events": 0,
            "suspects": 0,
        }
        summary.export = report
        if report["id"] == self._previous:
            # serve on a location: no newer export since the last pass. Its suspects were
            # confirmed (or found in flux) then; the same snapshot says nothing new.
            report["unchanged"] = True
            close = getattr(rows, "close", None)
            if close is not None:
                close()
            self._log.info("export_unchanged", export_id=report["id"], export_time=report["time"])
            state.progress.sweep_started(0)
            return
        self._log.info("export_sweep_started", export_id=report["id"], export_time=report["time"])
        state.progress.sweep_started(None)  # rows stream: their number is known at the end
        for row in rows:
            if state.control.should_stop():
                raise PassStoppedError
            if isinstance(row, InSyncEvents):
                # As many in-sync first looks as it counts, none of them worth a second look.
                summary.events_checked += row.events
                summary.classic_events += row.events
                summary.in_sync += row.events
                report["events"] = summary.events_checked
                state.progress.event_checked(row.events)
                continue
            summary.events_checked += 1
            report["events"] = summary.events_checked
            verdict, _ = judge(row)
            if verdict is SnapshotVerdict.AMBIGUOUS:
                state.count_ambiguous(row.slug, row.keys)
                continue
            live = None
            if verdict is SnapshotVerdict.SUSPECT:
                report["suspects"] += 1
                live = ledger_look(row.keys[0])
            first_look(
                Observation(row.keys[0], row.stored, row.counted, at) if live is None else live
            )
        state.progress.sweep_total(summary.events_checked)
        self._previous = report["id"]  # read whole: a pass that failed reading it reads it again


__all__ = ["ExportSweep", "SnapshotSource", "monotonic_at"]
