"""What a pass tells whoever watches it while it runs: the port behind ``run``'s progress display.

A pass spends most of its time waiting (on DynamoDB, and on the settle window, 120 s by
default), and a person at a terminal should see which phase it is in and how far along. The
pass calls these methods at its phase boundaries and once per event; every call comes from the
pass's own thread (the fan-out hands results back to it), so an implementation needs no lock of
its own. The pass imports no display library: ``run`` plugs one in from the CLI layer, and every
other caller gets :data:`NO_PROGRESS`.
"""

from __future__ import annotations

from typing import Protocol


class PassProgress(Protocol):
    """Called in this order: the sweep, the settle wait, the second looks, the writes (a pass
    that requests an export first reports its wait for it)."""

    def export_waiting(self, export_id: str, status: str, elapsed_seconds: float) -> None:
        """``--from-export new``: the export requested for this pass is ``status``
        (``IN_PROGRESS`` until done); called at each poll and about once a second between."""
        ...

    def sweep_started(self, total: int | None) -> None:
        """``total`` is the number of events to look at when known before the first look
        (one ``--event``; a table whose events were counted to choose the sweep)."""
        ...

    def sweep_total(self, total: int) -> None:
        """The total became known during the sweep (the scan sweep, once the table is read)."""
        ...

    def event_checked(self, events: int = 1) -> None:
        """``events`` first looks are done (in sync, suspect, ambiguous or skipped); more
        than one when an export's engine counted the events it found in sync."""
        ...

    def settle_started(self, suspects: int, settle_seconds: float) -> None:
        """The sweep is over; ``suspects`` wait for their settle window before a second look."""
        ...

    def settling(self, remaining_seconds: float) -> None:
        """The pass is waiting for the next suspect's window; called about once a second."""
        ...

    def suspect_rechecked(self) -> None:
        """One suspect had its second look (confirmed or in flux)."""
        ...

    def writes_started(self, corrections: int, held: str | None) -> None:
        """Confirmed corrections about to be written; ``held`` names why none will be
        (``dry_run``, ``paused``, ``braked``), else ``None``."""
        ...

    def correction_done(self) -> None:
        """One correction was written, refused, or recorded as planned."""
        ...


class NoProgress:
    """The default: a pass nobody watches (``serve``, the demo, tests)."""

    def export_waiting(self, export_id: str, status: str, elapsed_seconds: float) -> None:
        return None

    def sweep_started(self, total: int | None) -> None:
        return None

    def sweep_total(self, total: int) -> None:
        return None

    def event_checked(self, events: int = 1) -> None:
        return None

    def settle_started(self, suspects: int, settle_seconds: float) -> None:
        return None

    def settling(self, remaining_seconds: float) -> None:
        return None

    def suspect_rechecked(self) -> None:
        return None

    def writes_started(self, corrections: int, held: str | None) -> None:
        return None

    def correction_done(self) -> None:
        return None


NO_PROGRESS: PassProgress = NoProgress()

__all__ = ["NO_PROGRESS", "NoProgress", "PassProgress"]
