"""Requests of a pass to DynamoDB, metered: one way for every adapter of the pass.

Reads go through the pass's read-rate limiter and every request is tallied (requests, consumed
units), so the pass's summary and its read budget see what each table cost.
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
        self.tally = IoTally()
        """Requests and units. Failed attempts (by code) are counted by the table adapter's
        hook on the client the adapters share, not here."""

    def stats(self) -> IoStats:
        return self.tally.stats()

    def call(self, operation: str, call: Any, *, write: bool = False, **kwargs: Any) -> Any:
        if not write:
            self._limiter.acquire(1.0)
        try:
            with aws_call(operation, table=kwargs.get("TableName")):
                response = call(ReturnConsumedCapacity="TOTAL", **kwargs)
        except ReconcilerError:
            self.tally.sent(operation)
            raise
        units = self.tally.sent(operation, response, write=write)
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


def sort_key_bounds(
    values: dict[str, Any], start: str | None, stop: str | None, placeholder: str = "#sk"
) -> str:
    """The key condition's sort-key part for ``start <= sk`` or ``sk < stop`` (DynamoDB takes
    one comparison on the sort key); adds the bound to ``values``."""
    if start is not None and stop is not None:
        raise ValueError("bound the sort key on one side only")
    if start is not None:
        values[":start"] = {"S": start}
        return f" AND {placeholder} >= :start"
    if stop is not None:
        values[":stop"] = {"S": stop}
        return f" AND {placeholder} < :stop"
    return ""


__all__ = ["MeteredCalls", "sort_key_bounds"]
