"""A :class:`reconciler.reconcile.progress.PassProgress` that writes down every call, in order."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class RecordingProgress:
    calls: list[tuple[str, tuple[object, ...]]] = field(default_factory=list)

    def export_waiting(self, export_id: str, status: str, elapsed_seconds: float) -> None:
        self.calls.append(("export_waiting", (export_id, status, elapsed_seconds)))

    def sweep_started(self, total: int | None) -> None:
        self.calls.append(("sweep_started", (total,)))

    def sweep_total(self, total: int) -> None:
        self.calls.append(("sweep_total", (total,)))

    def event_checked(self, events: int = 1) -> None:
        self.calls.append(("event_checked", () if events == 1 else (events,)))

    def settle_started(self, suspects: int, settle_seconds: float) -> None:
        self.calls.append(("settle_started", (suspects, settle_seconds)))

    def settling(self, remaining_seconds: float) -> None:
        self.calls.append(("settling", (remaining_seconds,)))

    def suspect_rechecked(self) -> None:
        self.calls.append(("suspect_rechecked", ()))

    def writes_started(self, corrections: int, held: str | None) -> None:
        self.calls.append(("writes_started", (corrections, held)))

    def correction_done(self) -> None:
        self.calls.append(("correction_done", ()))

    def names(self) -> list[str]:
        """The calls' names with repeats folded: the order of the phases."""
        folded: list[str] = []
        for name, _ in self.calls:
            if not folded or folded[-1] != name:
                folded.append(name)
        return folded

    def count(self, name: str) -> int:
        return sum(1 for called, _ in self.calls if called == name)

    def args(self, name: str) -> list[tuple[object, ...]]:
        return [args for called, args in self.calls if called == name]
