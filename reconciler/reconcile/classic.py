"""Steps of the classic path (recount, settle, recheck, conditional write) outside the pass.

The pass (:mod:`reconciler.reconcile.reconciler`) owns order and threads; these own what one
look or one write means. :func:`write_correction` runs in a worker thread (it touches only the
table, the control and the audit's thread-safe intent line); the tallies run in the pass's own
thread.
"""

from __future__ import annotations

import enum
from collections.abc import Callable

from reconciler.kernel.errors import ConflictError
from reconciler.kernel.logs import get_logger
from reconciler.reconcile.core import (
    Correction,
    CorrectionOutcome,
    FirstLook,
    Observation,
    Reason,
    correction_reason,
    first_look,
    written,
)
from reconciler.reconcile.pass_control import PassControl
from reconciler.reconcile.ports import CounterTable
from reconciler.reconcile.summary import PassSummary


class WriteResult(enum.Enum):
    WRITTEN = "written"
    READ_BACK = "read_back"
    """Refused, but the item holds exactly what the write writes: its first attempt landed and
    the response was lost (botocore retried, and the retry's own condition refused it)."""
    REFUSED = "refused"


def tally_classic_look(summary: PassSummary, observation: Observation) -> bool:
    """Counts one classic first look; ``True`` when the event is a suspect to look at again."""
    summary.classic_events += 1
    look = first_look(observation)
    summary.tally_first_look(look, observation)
    key, stored = observation.key, observation.stored
    log = get_logger("reconciler.reconcile")
    if stored is not None and stored.version_unreadable:
        log.warning(
            "counter_version_unreadable",
            slug=key.slug,
            partition=key.partition,
            sort_key=key.sort_key,
        )
    if look is not FirstLook.SUSPECT or stored is None:
        return False
    reason = correction_reason(stored, observation.counted)
    log.info(
        "counter_suspect",
        slug=key.slug,
        reason=reason.value if reason else None,
        stored=stored.value,
        counted=observation.counted,
        version=stored.version,
    )
    return True


def write_correction(
    table: CounterTable,
    control: PassControl,
    write_intent: Callable[[Correction], None],
    correction: Correction,
    write: Callable[[Correction], None] | None = None,
) -> WriteResult:
    """The stop and lease checks, the audit's intent, the conditional write, a read-back.

    ``write`` replaces the table's ``SET`` (the ledger path ``ADD``s its measured gap)."""
    control.stop_if_asked()
    control.before_write()
    write_intent(correction)
    try:
        (write or table.write_correction)(correction)
    except ConflictError:
        if written(correction, table.read_counter(correction.key)):
            return WriteResult.READ_BACK
        return WriteResult.REFUSED
    return WriteResult.WRITTEN


def write_outcome(
    summary: PassSummary, result: WriteResult, slug: str, read_back_event: str
) -> CorrectionOutcome:
    """What any conditional write's result means for its audit line; a lost response (the
    write landed, botocore's retry was refused) is counted and logged as read back."""
    if result is WriteResult.REFUSED:
        return CorrectionOutcome.CONFLICT
    if result is WriteResult.READ_BACK:
        summary.lost_responses += 1
        get_logger("reconciler.reconcile").info(read_back_event, slug=slug)
    return CorrectionOutcome.APPLIED


def tally_write(
    summary: PassSummary, correction: Correction, result: WriteResult
) -> CorrectionOutcome:
    """Counts one write's result; returns the outcome its audit line records."""
    outcome = write_outcome(summary, result, correction.key.slug, "counter_correction_read_back")
    if outcome is CorrectionOutcome.CONFLICT:
        summary.conflicts += 1
        return outcome
    summary.note_corrected(correction.key.slug)
    if correction.reason is Reason.MISSING:
        summary.initialized += 1
    if correction.stored.version_unreadable:
        summary.versions_replaced += 1
    return CorrectionOutcome.APPLIED


__all__ = [
    "WriteResult",
    "tally_classic_look",
    "tally_write",
    "write_correction",
    "write_outcome",
]
