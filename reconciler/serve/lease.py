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
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading
import time
import uuid
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from reconciler.kernel.aws import aws_call
from reconciler.kernel.errors import ConflictError, LeaseLostError, ReconcilerError
from reconciler.kernel.logs import get_logger
from reconciler.kernel.model import TableModel

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

log = get_logger(__name__)

DEFAULT_LEASE_NAME = "leader-lease"
OWNER_ATTR = "ownerName"
VERSION_ATTR = "recordVersionNumber"
DURATION_ATTR = "leaseDurationMs"
HEARTBEAT_ATTR = "lastHeartbeatAt"
"""Wall-clock time of the last heartbeat: for humans reading the item, never for decisions."""


def default_owner_id() -> str:
    """Host, pid and a random suffix: unique per process even when pods reuse hostnames."""
    return f"{socket.gethostname()}-{os.getpid()}-{uuid.uuid4().hex[:6]}"


def new_version() -> str:
    return uuid.uuid4().hex


@dataclass(frozen=True, slots=True)
class LeaseRecord:
    owner: str
    version: str
    duration_seconds: float


class LeaseStore(Protocol):
    def read(self) -> LeaseRecord | None: ...

    def create(self, record: LeaseRecord) -> None:
        """Write the record if no lease item exists; ConflictError otherwise."""
        ...

    def replace(self, record: LeaseRecord, expected_version: str) -> None:
        """Overwrite the record if its version is still ``expected_version``; else ConflictError."""
        ...

    def delete(self, expected_version: str) -> None:
        """Delete the record if its version is still ``expected_version``; else ConflictError."""
        ...


class DynamoLeaseStore:
    """The lock item: pk = ``model.lock_partition``, sk = the lease name.

    The partition is neither an event partition nor an attendee key, so the stream handler
    classifies its stream records as OTHER and ignores them, and no pass ever reads it.
    """

    def __init__(
        self,
        client: DynamoDBClient,
        table_name: str,
        model: TableModel,
        name: str = DEFAULT_LEASE_NAME,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._client = client
        self._table = table_name
        self._model = model
        self._clock = clock
        self.key: dict[str, Any] = {
            model.pk_attr: {"S": model.lock_partition},
            model.sk_attr: {"S": name},
        }

    def _item(self, record: LeaseRecord) -> dict[str, Any]:
        heartbeat = dt.datetime.fromtimestamp(self._clock(), tz=dt.UTC).isoformat()
        return {
            **self.key,
            OWNER_ATTR: {"S": record.owner},
            VERSION_ATTR: {"S": record.version},
            DURATION_ATTR: {"N": str(round(record.duration_seconds * 1000))},
            HEARTBEAT_ATTR: {"S": heartbeat},
        }

    def read(self) -> LeaseRecord | None:
        with aws_call("GetItem"):
            response = self._client.get_item(
                TableName=self._table, Key=self.key, ConsistentRead=True
            )
        item = response.get("Item")
        if not item:
            return None
        return parse_record(item)

    def create(self, record: LeaseRecord) -> None:
        self._put(
            record,
            "attribute_not_exists(#pk)",
            {"#pk": self._model.pk_attr},
            None,
        )

    def replace(self, record: LeaseRecord, expected_version: str) -> None:
        if expected_version:
            self._put(
                record,
                "#v = :expected",
                {"#v": VERSION_ATTR},
                {":expected": {"S": expected_version}},
            )
        else:  # a malformed item without a version: only replace it while it still has none
            self._put(
                record,
                "attribute_exists(#pk) AND attribute_not_exists(#v)",
                {"#pk": self._model.pk_attr, "#v": VERSION_ATTR},
                None,
            )

    def delete(self, expected_version: str) -> None:
        with aws_call("DeleteItem"):
            self._client.delete_item(
                TableName=self._table,
                Key=self.key,
                ConditionExpression="#v = :expected",
                ExpressionAttributeNames={"#v": VERSION_ATTR},
                ExpressionAttributeValues={":expected": {"S": expected_version}},
            )

    def _put(
        self,
        record: LeaseRecord,
        condition: str,
        names: dict[str, str],
        values: dict[str, Any] | None,
    ) -> None:
        kwargs: dict[str, Any] = {
            "TableName": self._table,
            "Item": self._item(record),
            "ConditionExpression": condition,
            "ExpressionAttributeNames": names,
        }
        if values:
            kwargs["ExpressionAttributeValues"] = values
        with aws_call("PutItem"):
            self._client.put_item(**kwargs)


def parse_record(item: dict[str, Any]) -> LeaseRecord:
    """Tolerates a hand-edited item: missing fields read as empty, so it can still go stale."""
    owner = item.get(OWNER_ATTR, {}).get("S", "")
    version = item.get(VERSION_ATTR, {}).get("S", "")
    try:
        duration = float(item.get(DURATION_ATTR, {}).get("N", "0")) / 1000.0
    except ValueError:
        duration = 0.0
    return LeaseRecord(owner=str(owner), version=str(version), duration_seconds=duration)


Transition = Callable[[str], None]


def _ignore(_transition: str) -> None:
    return None


class LeaderLease:
    """The lease state machine; :meth:`tick` is driven by :class:`LeaseKeeper`'s thread.

    ``is_held`` and ``ensure_held`` are safe to call from the pass thread at any time.
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
        self._heartbeat = heartbeat_seconds
        self.heartbeat_seconds = heartbeat_seconds
        self._monotonic = monotonic
        self._versions = versions
        self._on_transition = on_transition
        self._on_error = on_error
        self._trust = duration_seconds * (1.0 - safety_fraction)
        self._lock = threading.RLock()
        """Serialises tick and release (they do I/O); ``is_held`` never takes it."""
        self._held = False
        self._version = ""
        self._unconfirmed: deque[str] = deque(maxlen=32)
        """Versions we sent since the last confirmed write: one may have landed unseen."""
        self._valid_until = 0.0
        self._observed: tuple[str, float] | None = None
        """(version, monotonic time first seen) of another owner's record."""

    # --- what the pass asks -------------------------------------------------------------------

    def is_held(self) -> bool:
        # No lock: one attribute read, so the pass thread never waits behind a slow renewal.
        return self._monotonic() < self._valid_until

    def ensure_held(self) -> None:
        if not self.is_held():
            raise LeaseLostError(f"leader lease no longer held by {self.owner}")

    # --- what the keeper drives ---------------------------------------------------------------

    def tick(self) -> float:
        """One heartbeat or acquisition attempt; returns seconds until the next is useful."""
        with self._lock:
            try:
                started = self._monotonic()
                if self._held and started >= self._valid_until:
                    self._lose("expired")
                if self._held:
                    self._renew()
                    # Heartbeats keep their rhythm from when each was sent: a slow renewal must
                    # not push the next one past the end of the trusted lease.
                    return max(self._heartbeat - (self._monotonic() - started), 0.0)
                return self._try_acquire()
            except ReconcilerError as exc:
                self._on_error()
                log.warning("lease_error", error_type=type(exc).__name__, error=str(exc))
                return self._heartbeat

    def release(self) -> None:
        """Give the lease up (graceful shutdown), so a successor need not wait a lease."""
        with self._lock:
            if not self._held:
                return
            self._held = False
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

    # --- internals ----------------------------------------------------------------------------

    def _record(self, version: str) -> LeaseRecord:
        return LeaseRecord(self.owner, version, self._duration)

    def _granted(self, version: str, sent_at: float) -> None:
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
        self._valid_until = 0.0
        self._on_transition("lost")
        log.warning("lease_lost", owner=self.owner, reason=reason)

    def _is_ours(self, record: LeaseRecord) -> bool:
        """A record we wrote ourselves. The owner name alone is not enough: two replicas given
        the same ``--owner-id`` by mistake must not both adopt the lease."""
        return record.owner == self.owner and (
            record.version == self._version or record.version in self._unconfirmed
        )

    def _renew(self) -> None:
        version = self._versions()
        sent_at = self._monotonic()
        self._unconfirmed.append(version)
        try:
            self._store.replace(self._record(version), self._version)
        except ConflictError:
            current = self._store.read()
            if current is not None and self._is_ours(current):
                # our previous renewal landed although its response was lost: adopt it
                self._adopt(current)
            else:
                self._lose("taken_over")
            return
        self._granted(version, sent_at)

    def _adopt(self, current: LeaseRecord) -> None:
        version = self._versions()
        sent_at = self._monotonic()
        self._unconfirmed.append(version)
        try:
            self._store.replace(self._record(version), current.version)
        except ConflictError:
            if self._held:
                self._lose("taken_over")
            return
        self._granted(version, sent_at)

    def _try_acquire(self) -> float:
        current = self._store.read()
        now = self._monotonic()
        if current is None:
            version = self._versions()
            self._unconfirmed.append(version)
            try:
                self._store.create(self._record(version))
            except ConflictError:
                return self._heartbeat
            self._granted(version, now)
            return self._heartbeat
        if self._is_ours(current):
            self._adopt(current)
            return self._heartbeat
        if self._observed is None or self._observed[0] != current.version:
            self._observed = (current.version, now)
        version_seen, first_seen = self._observed
        lease = current.duration_seconds if current.duration_seconds > 0 else self._duration
        waited = now - first_seen
        if waited < lease:
            return min(self._heartbeat, lease - waited)
        version = self._versions()
        sent_at = self._monotonic()
        self._unconfirmed.append(version)
        try:
            self._store.replace(self._record(version), version_seen)
        except ConflictError:
            self._observed = None
            return self._heartbeat
        log.info("lease_taken_over", previous_owner=current.owner, waited_seconds=round(waited, 3))
        self._granted(version, sent_at)
        return self._heartbeat


class LeaseKeeper:
    """Runs :meth:`LeaderLease.tick` on a daemon thread until stopped."""

    def __init__(self, lease: LeaderLease, *, minimum_delay: float = 0.01) -> None:
        self.lease = lease
        self._minimum = minimum_delay
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
