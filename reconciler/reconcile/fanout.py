"""Bounded concurrency for the phases of a pass: the sweep, the second looks and the writes.

Every phase of a pass spends its time waiting on round trips to DynamoDB, so each runs up to
``--concurrency`` requests at once. What must stay single-threaded stays in the calling
thread: the input is iterated there (a spool may read it back from disk), and every result is
handed to ``on_result`` there, so the summary, the spools and the audit's outcome lines are
only ever touched by one thread.

At most two items per worker are in flight, so memory does not grow with the input. The
first error stops the submission of new items and cancels those not started; work already
running finishes (an event in progress is finished, as ``should_stop`` promises), its results
are still collected, and then the error is raised. A work item that did part of its work
before failing (the ledger path's writes of one event) returns its error inside its result
(``error_of``): its finished part is still handed to ``on_result``, then it fails the same way.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from typing import TypeVar

from reconciler.kernel.errors import ReconcilerError

T = TypeVar("T")
R = TypeVar("R")


class _SkippedError(ReconcilerError):
    """An item not started because an earlier one failed; never leaves :func:`fan_out`."""


def _no_error(_: object) -> None:
    return None


def fan_out(
    items: Iterable[T],
    work: Callable[[T], R],
    on_result: Callable[[R], None],
    *,
    limit: int,
    name: str,
    error_of: Callable[[R], BaseException | None] = _no_error,
) -> None:
    """Runs ``work`` over ``items`` on ``limit`` threads; see the module docstring."""
    workers = max(1, limit)
    pending: set[Future[R]] = set()
    failure: BaseException | None = None
    failed = threading.Event()

    def run(item: T) -> R:
        # Checked in the worker itself: a queued item that a worker picks up before the
        # calling thread has seen the failure must not start either.
        if failed.is_set():
            raise _SkippedError
        try:
            result = work(item)
        except BaseException:
            failed.set()
            raise
        if error_of(result) is not None:
            failed.set()
        return result

    def fail(error: BaseException) -> None:
        nonlocal failure
        failure = failure or error
        for queued in pending:
            queued.cancel()  # only those not started yet: no new work after this

    def collect(until_below: int) -> None:
        nonlocal pending
        while len(pending) > until_below:
            done, pending = wait(pending, return_when=FIRST_COMPLETED)
            for future in done:
                if future.cancelled():
                    continue
                error = future.exception()
                if isinstance(error, _SkippedError):
                    continue
                if error is not None:
                    fail(error)
                    continue
                result = future.result()
                on_result(result)
                error = error_of(result)
                if error is not None:
                    fail(error)

    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix=name) as pool:
        try:
            for item in items:
                collect(2 * workers - 1)
                if failure is not None:
                    break
                pending.add(pool.submit(run, item))
            collect(0)
        except BaseException:
            for future in pending:
                future.cancel()
            raise
    if failure is not None:
        raise failure


__all__ = ["fan_out"]
