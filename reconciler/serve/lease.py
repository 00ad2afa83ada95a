"""Leader lease: at most one ``serve`` replica runs passes, with a lock item in the table.

Modelled on Amazon's DynamoDB Lock Client. The holder rewrites the item's record version
number (a fresh UUID) on every heartbeat with a conditional write. Another replica treats the
lease as abandoned only after it has watched the *same* version for a whole lease duration on
its *own* monotonic clock, so no two clocks are ever compared: wall-clock skew between hosts
cannot hand the lease over early.

Why the holder can trust its lease for a while without asking: its renewal was sent at
monotonic time ``s``; the write landed after ``s``; a challenger can first see that version no
earlier than it landed and then waits a full lease, so it cannot take over before ``s + L``.
The holder stops trusting at ``s + L * (1 - safety)``, which leaves a margin for the last
write of a pass still in flight and for clock-rate differences.

Every acquire, renew and release is a conditional write; losing a race is a
:class:`ConflictError`, never an overwrite.

This module is the algorithm only: it decides from what the store answered
(:mod:`reconciler.serve.lease_store`) and from the injected monotonic clock, and owns no
thread. :class:`~reconciler.serve.lease_keeper.LeaseKeeper` drives it.
"""

from __future__ import annotations

import time
import uuid
from collections import deque
from collections.abc import Callable

from reconciler.kernel.errors import ConflictError, LeaseLostError, ReconcilerError
from reconciler.kernel.logs import get_logger
from reconciler.serve.lease_store import LeaseRecord, LeaseStore

log = get_logger(__name__)

Transition = Callable[[str], None]
"""Called with ``acquired``, ``lost`` or ``released``: the metrics' view of leadership."""


def new_version() -> str:
    return uuid.uuid4().hex


def _ignore(_transition: str) -> None:
    return None


class LeaderLease:
    """The lease state machine: one :meth:`tick` per heartbeat, one :meth:`release` at the end.

    ``tick`` and ``release`` must not run concurrently (the keeper calls them from one thread
    at a time); ``is_held`` and ``ensure_held`` are safe from the pass thread at any time.
    """

    def __init__(
        self,
        store: LeaseStore,
        owner: str,
        duration_seconds: float,
        heartbeat_seconds: float,
        *,
        monotonic: Callable[[], float] = time.monotonic,
        versions: Callable[[], str] = new_version,
        on_transition: Transition = _ignore,
        on_error: Callable[[], None] = lambda: None,
        safety_fraction: float = 0.1,
    ) -> None:
        if not 0 < heartbeat_seconds < duration_seconds:
            raise ValueError("heartbeat must be shorter than the lease duration")
        self._store = store
        self.owner = owner
        self._duration = duration_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self._monotonic = monotonic
        self._versions = versions
        self._on_transition = on_transition
        self._on_error = on_error
        self._trust = duration_seconds * (1.0 - safety_fraction)
        self._held = False
        self._version = ""
        self._unconfirmed: deque[str] = deque(maxlen=32)
        """Versions we sent since the last confirmed write: one may have landed unseen."""
        self._valid_until = 0.0
        self._observed: tuple[str, float] | None = None
        """(version, monotonic time first seen) of another owner's record."""
        self._holder: str | None = None

    # --- what the pass asks -------------------------------------------------------------------

    def is_held(self) -> bool:
        # One attribute read, so the pass thread never waits behind a slow renewal.
        return self._monotonic() < self._valid_until

    @property
    def holder(self) -> str | None:
        """Who held the lease when this replica last looked (itself while it holds it); None
        when the item was free or has not been read yet. For the status page, not decisions."""
        return self.owner if self.is_held() else self._holder

    def ensure_held(self) -> None:
        if not self.is_held():
            raise LeaseLostError(f"leader lease no longer held by {self.owner}")

    # --- what the keeper drives ---------------------------------------------------------------

    def tick(self) -> float:
        """One heartbeat or acquisition attempt; returns seconds until the next is useful."""
        try:
            started = self._monotonic()
            if self._held and started >= self._valid_until:
                self._lose("expired")
            if self._held:
                self._renew()
                # Heartbeats keep their rhythm from when each was sent: a slow renewal must
                # not push the next one past the end of the trusted lease.
                return max(self.heartbeat_seconds - (self._monotonic() - started), 0.0)
            return self._try_acquire()
        except ReconcilerError as exc:
            self._on_error()
            log.warning("lease_error", error_type=type(exc).__name__, error=str(exc))
            return self.heartbeat_seconds

    def release(self) -> None:
        """Give the lease up (graceful shutdown), so a successor need not wait a lease."""
        if not self._held:
            return
        self._held = False
        self._holder = None
        self._valid_until = 0.0
        try:
            self._store.delete(self._version)
        except ConflictError:
            log.warning("lease_release_conflict")
        except ReconcilerError as exc:
            self._on_error()
            log.warning("lease_release_failed", error_type=type(exc).__name__)
        self._on_transition("released")
        log.info("lease_released", owner=self.owner)

    # --- the decisions ------------------------------------------------------------------------

    def _renew(self) -> None:
        if self._write(expected=self._version):
            return
        current = self._store.read()
        # our previous renewal may have landed although its response was lost: adopt it
        if current is not None and self._is_ours(current) and self._write(expected=current.version):
            return
        self._lose("taken_over")
        self._holder = None if current is None or current.owner == self.owner else current.owner

    def _try_acquire(self) -> float:
        current = self._store.read()
        self._holder = None if current is None else current.owner
        if current is None:
            self._write(expected=None)
            return self.heartbeat_seconds
        if self._is_ours(current):
            self._write(expected=current.version)
            return self.heartbeat_seconds
        now = self._monotonic()
        if self._observed is None or self._observed[0] != current.version:
            self._observed = (current.version, now)
        version_seen, first_seen = self._observed
        lease = current.duration_seconds if current.duration_seconds > 0 else self._duration
        waited = now - first_seen
        if waited < lease:
            return min(self.heartbeat_seconds, lease - waited)
        if self._write(expected=version_seen):
            log.info(
                "lease_taken_over", previous_owner=current.owner, waited_seconds=round(waited, 3)
            )
        else:
            self._observed = None  # someone else moved first: watch their version afresh
        return self.heartbeat_seconds

    def _is_ours(self, record: LeaseRecord) -> bool:
        """A record we wrote ourselves. The owner name alone is not enough: two replicas given
        the same ``--owner-id`` by mistake must not both adopt the lease."""
        return record.owner == self.owner and (
            record.version == self._version or record.version in self._unconfirmed
        )

    # --- the one write ------------------------------------------------------------------------

    def _write(self, expected: str | None) -> bool:
        """Send a fresh version (create when ``expected`` is None, else replace the record
        still at ``expected``) and hold the lease if it landed; False on a lost race.

        The version is remembered as unconfirmed before it is sent: if the response is lost,
        the next tick recognises the record as ours. The trust period counts from the moment
        the write was sent, never from when it returned (see the module docstring).
        """
        version = self._versions()
        record = LeaseRecord(self.owner, version, self._duration)
        self._unconfirmed.append(version)
        sent_at = self._monotonic()
        try:
            if expected is None:
                self._store.create(record)
            else:
                self._store.replace(record, expected)
        except ConflictError:
            return False
        self._grant(version, sent_at)
        return True

    def _grant(self, version: str, sent_at: float) -> None:
        was_held = self._held
        self._held = True
        self._version = version
        self._unconfirmed.clear()
        self._valid_until = sent_at + self._trust
        self._observed = None
        if not was_held:
            self._on_transition("acquired")
            log.info("lease_acquired", owner=self.owner, duration_seconds=self._duration)

    def _lose(self, reason: str) -> None:
        self._held = False
        self._holder = None
        self._valid_until = 0.0
        self._on_transition("lost")
        log.warning("lease_lost", owner=self.owner, reason=reason)
