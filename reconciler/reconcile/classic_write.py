"""One classic correction written, and what it did to the pass's summary.

Split from the pass so that the write can run in a worker thread (:func:`write_correction`
touches only the table, the control and the audit's thread-safe intent line) while its
bookkeeping (:func:`tally_write`) runs in the pass's own thread.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from reconciler.kernel.errors import ConflictError
from reconciler.kernel.logs import get_logger
from reconciler.reconcile.core import Correction, CorrectionOutcome, Reason, written
from reconciler.reconcile.pass_control import PassControl
from reconciler.reconcile.ports import CounterTable
from reconciler.reconcile.summary import PassSummary


class WriteResult(enum.Enum):
    WRITTEN = "written"
    READ_BACK = "read_back"
    """Refused, but the item holds exactly what the write writes: its first attempt landed and
    the response was lost (botocore retried, and the retry's own condition refused it)."""
    REFUSED = "refused"


def write_correction(
    table: CounterTable,
    control: PassControl,
    write_intent: Callable[[Correction], None],
    correction: Correction,
) -> WriteResult:
    """The stop and lease checks, the audit's intent, the conditional write, a read-back."""
    control.stop_if_asked()
    control.before_write()
    write_intent(correction)
    try:
        table.write_correction(correction)
    except ConflictError:
        if written(correction, table.read_counter(correction.key)):
            return WriteResult.READ_BACK
        return WriteResult.REFUSED
    return WriteResult.WRITTEN


def tally_write(
    summary: PassSummary, correction: Correction, result: WriteResult
) -> CorrectionOutcome:
    """Counts one write's result; returns the outcome its audit line records."""
    if result is WriteResult.REFUSED:
        summary.conflicts += 1
        return CorrectionOutcome.CONFLICT
    if result is WriteResult.READ_BACK:
        summary.lost_responses += 1
        get_logger("reconciler.reconcile").info(
            "counter_correction_read_back", slug=correction.key.slug
        )
    summary.corrected += 1
    if correction.reason is Reason.MISSING:
        summary.initialized += 1
    if correction.stored.version_unreadable:
        summary.versions_replaced += 1
    return CorrectionOutcome.APPLIED


__all__ = ["WriteResult", "tally_write", "write_correction"]
