"""The result of one reconciliation pass: what ``run`` prints and ``serve`` turns into metrics."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any


@dataclass(slots=True)
class PassSummary:
    run_id: str
    events_checked: int = 0
    in_sync: int = 0
    drifted: int = 0
    """Events whose stored count differed from the recount at the first look."""
    drift_over: int = 0
    """Drifted events whose stored count was above the true count."""
    drift_under: int = 0
    drift_attendees_over: int = 0
    """Sum of |stored - counted| over events stored too high."""
    drift_attendees_under: int = 0
    corrected: int = 0
    conflicts: int = 0
    in_flux: int = 0
    ambiguous: int = 0
    initialized: int = 0
    invalid: int = 0
    planned: int = 0
    """Confirmed corrections not written (dry-run, brake or paused corrections)."""
    brake_tripped: bool = False
    dry_run: bool = False
    corrections_paused: bool = False
    consumed_read_units: float = 0.0
    duration_seconds: float = 0.0
    failed: bool = False
    error: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        data = asdict(self)
        extra = data.pop("extra")
        data.update(extra)
        data["consumed_read_units"] = round(self.consumed_read_units, 3)
        data["duration_seconds"] = round(self.duration_seconds, 3)
        return data
