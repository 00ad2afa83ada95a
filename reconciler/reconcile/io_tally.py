"""What an adapter sent to DynamoDB and what it cost, tallied for the pass's summary.

The pass reports requests per operation, consumed read and write units and failed attempts per
(operation, code); both DynamoDB adapters of a pass keep that tally the same way, from the
``ConsumedCapacity`` DynamoDB returns (one entry, or a list for multi-table requests).
"""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Mapping
from typing import Any

from reconciler.reconcile.summary import AwsErrorKey, IoStats


def consumed_units(response: Mapping[str, Any]) -> float:
    consumed = response.get("ConsumedCapacity", {})
    if isinstance(consumed, list):
        return sum(float(c.get("CapacityUnits", 0.0) or 0.0) for c in consumed)
    return float(consumed.get("CapacityUnits", 0.0) or 0.0)


class IoTally:
    """Thread-safe: the pass's worker threads share one adapter."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._requests: Counter[str] = Counter()
        self._errors: Counter[AwsErrorKey] = Counter()
        self._read_units = 0.0
        self._write_units = 0.0

    def sent(
        self,
        operation: str,
        response: Mapping[str, Any] | None = None,
        *,
        write: bool = False,
        requests: int = 1,
    ) -> float:
        """Count requests; with a response, the units it consumed (returned)."""
        units = consumed_units(response) if response is not None else 0.0
        with self._lock:
            self._requests[operation] += requests
            if write:
                self._write_units += units
            else:
                self._read_units += units
        return units

    def failed(self, key: AwsErrorKey) -> None:
        with self._lock:
            self._errors[key] += 1

    def stats(self) -> IoStats:
        with self._lock:
            return IoStats(
                requests=dict(self._requests),
                read_units=self._read_units,
                write_units=self._write_units,
                errors=dict(self._errors),
            )
