"""Requests of a pass to the state table, metered like every other read of the pass.

Reads go through the pass's read-rate limiter and every request is tallied (requests, consumed
units) so that the pass's summary and its read budget see what the state table cost too.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from reconciler.kernel.aws import aws_call
from reconciler.kernel.errors import ReconcilerError
from reconciler.reconcile.io_tally import IoTally
from reconciler.reconcile.ratelimit import ReadRateLimiter
from reconciler.reconcile.summary import IoStats


class MeteredCalls:
    """Thread-safe."""

    def __init__(self, limiter: ReadRateLimiter) -> None:
        self._limiter = limiter
        self._io = IoTally()

    def stats(self) -> IoStats:
        return self._io.stats()

    def call(self, operation: str, call: Any, *, write: bool = False, **kwargs: Any) -> Any:
        if not write:
            self._limiter.acquire(1.0)
        try:
            with aws_call(operation):
                response = call(ReturnConsumedCapacity="TOTAL", **kwargs)
        except ReconcilerError:
            # Failed attempts are counted by the table adapter's hook on the shared client.
            self._io.sent(operation)
            raise
        units = self._io.sent(operation, response, write=write)
        if not write:
            self._limiter.charge(units - 1.0)
        return response

    def query(self, call: Any, **kwargs: Any) -> Iterator[dict[str, Any]]:
        """Every page of a query."""
        while True:
            page = self.call("Query", call, **kwargs)
            yield page
            last = page.get("LastEvaluatedKey")
            if not last:
                return
            kwargs["ExclusiveStartKey"] = last


__all__ = ["MeteredCalls"]
