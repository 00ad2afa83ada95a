"""The lease heartbeat: a daemon thread that ticks :class:`LeaderLease` until stopped.

The thread is the only caller of ``tick`` once started, and the release runs only after the
thread has ended, so the lease never sees two of its writes at once and needs no lock. Every
wait here is bounded: a shutdown must never hang on a table that stopped answering, because a
lease nobody renews expires on its own.
"""

from __future__ import annotations

import os
import socket
import threading
import time
import uuid

from reconciler.kernel.logs import get_logger
from reconciler.serve.lease import LeaderLease

log = get_logger(__name__)


def default_owner_id() -> str:
    """Host, pid and a random suffix: unique per process even when pods reuse hostnames."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


class LeaseKeeper:
    """Runs :meth:`LeaderLease.tick` on a daemon thread until stopped."""

    def __init__(self, lease: LeaderLease, *, minimum_delay: float = 0.01) -> None:
        self.lease = lease
        self._minimum = minimum_delay
        self._next = lease.heartbeat_seconds
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._loop, name="lease-heartbeat", daemon=True)

    def start(self) -> None:
        """First attempt synchronously, so a pass at start-up already knows if it leads."""
        self._next = self.lease.tick()
        self._thread.start()

    def _loop(self) -> None:
        delay = self._next
        while not self._stop.wait(max(delay, self._minimum)):
            try:
                delay = self.lease.tick()
            except Exception as exc:  # noqa: BLE001 - a dead heartbeat thread would be silent
                log.error("lease_tick_crashed", error_type=type(exc).__name__, error=str(exc))
                delay = self.lease.heartbeat_seconds

    def stop(self, *, release: bool = True, timeout: float = 10.0) -> bool:
        """Stop heartbeating and (optionally) release, giving up after ``timeout`` seconds.

        A heartbeat or the release may be stuck in retries against an unreachable table; the
        caller has a shutdown deadline to keep, so we never wait past ``timeout``. Giving up is
        safe: a lease nobody renews expires on its own. Returns False when we gave up.
        """
        deadline = time.monotonic() + max(timeout, 0.0)
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=max(deadline - time.monotonic(), 0.0))
            if self._thread.is_alive():
                # a tick is still in flight: releasing now could race it, so let it expire
                log.warning("lease_heartbeat_still_running", timeout_seconds=timeout)
                return False
        if not release:
            return True
        releaser = threading.Thread(target=self.lease.release, name="lease-release", daemon=True)
        releaser.start()
        releaser.join(timeout=max(deadline - time.monotonic(), 0.0))
        if releaser.is_alive():
            log.warning("lease_release_abandoned", timeout_seconds=timeout)
            return False
        return True
