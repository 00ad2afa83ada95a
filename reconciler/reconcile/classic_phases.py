"""The classic path's second looks and writes over a whole pass, ``--concurrency`` at a time.

:mod:`reconciler.reconcile.reconciler` keeps the order of the phases (and the ledger path's
beside them); these run one phase of the classic path through :func:`fan_out`: the workers only
look or write, and every tally, log line and audit outcome is made in the pass's own thread.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from reconciler.kernel.logs import get_logger
from reconciler.kernel.model import EventKey
from reconciler.reconcile.classic import WriteResult, tally_write, write_correction
from reconciler.reconcile.core import (
    Correction,
    CorrectionOutcome,
    Observation,
    Recheck,
    confirm,
    recheck_due,
)
from reconciler.reconcile.fanout import fan_out
from reconciler.reconcile.pass_state import PassState
from reconciler.reconcile.ports import CounterTable


def recheck_suspects(
    state: PassState,
    observe: Callable[[EventKey], Observation],
    wait: Callable[[float], None],
    settle: float,
    concurrency: int,
) -> None:
    """Each suspect's second look once its own settle window is over; the agreeing ones are
    confirmed into ``state.confirmed``, the rest counted in flux."""
    summary = state.summary
    log = get_logger("reconciler.reconcile")

    def due() -> Iterator[Observation]:
        # The wait happens here, in the pass's own thread: suspects are in the order of
        # their first looks, so each is handed to a worker as soon as its window is over.
        for first in state.suspects:
            wait(recheck_due(first, settle))
            yield first

    def second_look(first: Observation) -> tuple[Observation, Correction | None]:
        verdict, correction = confirm(first, observe(first.key))
        return first, None if verdict is Recheck.IN_FLUX else correction

    def tally(result: tuple[Observation, Correction | None]) -> None:
        first, correction = result
        state.progress.suspect_rechecked()
        if correction is None:
            summary.in_flux += 1
            log.info("counter_in_flux", slug=first.key.slug)
        else:
            state.confirmed.append(correction)

    fan_out(due(), second_look, tally, limit=concurrency, name="reconcile-recheck")


def write_confirmed(
    state: PassState,
    table: CounterTable,
    audit_intent: Callable[[Correction], None],
    audit_outcome: Callable[[Correction, CorrectionOutcome], None],
    concurrency: int,
) -> None:
    """Every confirmed correction written (stop and lease checks, intent, conditional write,
    read-back in the worker), then counted and audited here."""

    def write(correction: Correction) -> tuple[Correction, WriteResult]:
        return correction, write_correction(table, state.control, audit_intent, correction)

    def tally(result: tuple[Correction, WriteResult]) -> None:
        correction, outcome = result[0], tally_write(state.summary, *result)
        audit_outcome(correction, outcome)
        state.progress.correction_done()

    fan_out(state.confirmed, write, tally, limit=concurrency, name="reconcile-write")


__all__ = ["recheck_suspects", "write_confirmed"]
