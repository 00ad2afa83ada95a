"""A token bucket on read capacity units, shared by every reader thread of a pass.

DynamoDB throttles on capacity, not on requests: one ``Query`` over a big event can cost
hundreds of read units. So a request reserves one unit up front (which bounds the request rate)
and is charged the rest of what ``ConsumedCapacity`` reports afterwards; the bucket may go
into debt, and later requests wait until it is paid back.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

_EPSILON = 1e-6


class ReadRateLimiter:
    """``rate`` units per second with a burst of ``burst`` units; ``rate <= 0`` disables it."""

    def __init__(
        self,
        rate: float,
        *,
        clock: Callable[[], float],
        sleep: Callable[[float], None],
        burst: float | None = None,
    ) -> None:
        self._rate = rate
        self._burst = max(1.0, burst if burst is not None else rate)
        self._clock = clock
        self._sleep = sleep
        self._lock = threading.Lock()
        self._tokens = self._burst
        self._stamp = clock()
        self.waited_seconds = 0.0

    @property
    def enabled(self) -> bool:
        return self._rate > 0

    def _refill(self) -> None:
        now = self._clock()
        self._tokens = min(self._burst, self._tokens + (now - self._stamp) * self._rate)
        self._stamp = now

    def acquire(self, units: float = 1.0) -> None:
        """Block until ``units`` are available, then take them."""
        if not self.enabled:
            return
        while True:
            with self._lock:
                self._refill()
                # The epsilon absorbs float rounding, which could otherwise ask for a sleep
                # too short to move the clock at all.
                if self._tokens >= units - _EPSILON:
                    self._tokens -= units
                    return
                wait = max((units - self._tokens) / self._rate, _EPSILON)
                self.waited_seconds += wait
            self._sleep(wait)

    def charge(self, units: float) -> None:
        """Debit units consumed beyond the reservation; the bucket may go negative."""
        if not self.enabled or units <= 0:
            return
        with self._lock:
            self._refill()
            self._tokens -= units
