"""What one pass carries from phase to phase: its summary, its suspects and confirmed
corrections (spooled to disk past a limit), the ledger path's work, and who watches it.

Apart from :mod:`reconciler.reconcile.reconciler` so the pass's ordering reads on its own.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from reconciler.kernel.logs import get_logger
from reconciler.kernel.model import EventKey
from reconciler.reconcile.core import Correction, Observation
from reconciler.reconcile.ledger_tally import LedgerWork
from reconciler.reconcile.pass_control import PassControl
from reconciler.reconcile.progress import NO_PROGRESS, PassProgress
from reconciler.reconcile.rotation import RotatingSweep
from reconciler.reconcile.spool import SPOOL_IN_MEMORY, Spool, correction_spool, observation_spool
from reconciler.reconcile.summary import PassSummary


@dataclass
class PassState:
    summary: PassSummary
    control: PassControl
    run_id: str
    spool_limit: int = SPOOL_IN_MEMORY
    progress: PassProgress = NO_PROGRESS
    suspects: Spool[Observation] = field(init=False)
    confirmed: Spool[Correction] = field(init=False)
    ledger: LedgerWork = field(init=False)
    rotation: RotatingSweep | None = None

    def __post_init__(self) -> None:
        self.suspects = observation_spool(self.spool_limit)
        self.confirmed = correction_spool(self.spool_limit)
        self.ledger = LedgerWork(self.spool_limit)

    def count_ambiguous(self, slug: str, keys: Sequence[EventKey]) -> None:
        """One event checked and found ambiguous (two event items for its slug): reported,
        never corrected, whichever sweep found it."""
        self.summary.ambiguous += 1
        self.progress.event_checked()
        get_logger("reconciler.reconcile").warning(
            "ambiguous_event",
            slug=slug,
            candidates=[f"{k.partition}/{k.sort_key}" for k in keys],
        )

    def close(self) -> None:
        """Removes the spool files, if the pass needed any."""
        self.suspects.close()
        self.confirmed.close()
        self.ledger.close()


__all__ = ["PassState"]
