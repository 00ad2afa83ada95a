"""``reconciler init --backfill``: a ledger entry for every attendee item already counted.

Before the ledger, the handler counted items without recording them. The new handler treats an
item without an entry as counted unless its first record is an INSERT, so counts stay right
without a backfill; the backfill makes that assumption explicit, one ``present`` entry per
attendee item, so the ledger describes every item (and the per-key repair can trust it).

Race-safety beside the live handler rests on two things:

- Every claim is conditional on no entry existing: an entry the handler wrote first (with the
  position of a record it applied) wins and is counted as ``existing``.
- Claims wait until ``settle_seconds`` after the event's attendees were listed. An item whose
  INSERT is still on its way to the handler is in the listing but not yet in the counter; a
  ``present`` entry claimed for it now would make the handler take that INSERT as a repeat and
  never count it. Once the settle window (longer than the stream's delivery latency) has
  passed, the handler has applied that INSERT and written the entry itself, so the claim finds
  it and leaves it alone.

Events are listed ``concurrency`` at a time; claims go to a shared pool of writer threads in
chunks, so small events do not leave writers idle. The first error stops the run: rerunning it
is safe (every claim is conditional), and nothing is retried blindly against a failing table.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol

from reconciler.kernel.errors import ReconcilerError
from reconciler.kernel.logs import get_logger

DEFAULT_CONCURRENCY = 4
WRITERS_PER_LISTER = 8
"""A conditional ``PutItem`` takes a round trip; listing a page yields hundreds of keys."""
MAX_WRITERS = 40
"""Below the client's connection pool (50), which the listing threads share."""
CHUNK = 25
"""Claims per writer task: small enough to spread an event, big enough to amortise a task."""
MAX_QUEUED_CHUNKS = 4000
"""About 100,000 claims waiting for a writer: bounds memory whatever the table's size."""
MAX_LISTED_AHEAD = 5000
"""Events listed, or waiting to be, ahead of the claims: enough to list through a settle
window of small events."""
MAX_HELD_ENTRIES = 250_000
"""Item hashes of listed events waiting for their settle window (some 25 MB)."""


class AttendeeHashes(Protocol):
    def item_hashes(self, slug: str) -> Iterator[str]:
        """The ledger names (``item_hash``) of the slug's attendee items, from consistent reads.

        The attendees' keys (e-mail addresses) never leave the adapter.
        """
        ...


class LedgerClaims(Protocol):
    def claim(self, slug: str, item_hash: str) -> bool:
        """Create the entry ``present=true`` unless one exists; ``False`` when one did."""
        ...

    def mark_backfilled(self, slug: str, at: str) -> None:
        """Record on the event's meta item that every listed attendee has an entry."""
        ...


@dataclass(frozen=True, slots=True)
class BackfillOptions:
    settle_seconds: float
    concurrency: int = DEFAULT_CONCURRENCY
    dry_run: bool = False

    @property
    def writers(self) -> int:
        return min(MAX_WRITERS, self.concurrency * WRITERS_PER_LISTER)


@dataclass(frozen=True, slots=True)
class BackfillSummary:
    events: int
    """Events whose attendees the run listed (or failed to list)."""
    attendees: int
    """Attendee items listed: the entries a backfill checks."""
    entries_created: int
    entries_existing: int
    """Claims that found an entry (the handler's, or an earlier backfill's) and left it."""
    events_completed: int
    """Events whose meta item now says ``backfilledAt``."""
    dry_run: bool
    seconds: float
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None

    @property
    def entries_per_second(self) -> float:
        claims = self.entries_created + self.entries_existing
        return round(claims / self.seconds, 1) if self.seconds > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "events": self.events,
            "attendees": self.attendees,
            "entries_created": self.entries_created,
            "entries_existing": self.entries_existing,
            "events_completed": self.events_completed,
            "dry_run": self.dry_run,
            "seconds": round(self.seconds, 3),
            "entries_per_second": self.entries_per_second,
            "failed": self.failed,
            "error": self.error,
        }


@dataclass(slots=True)
class _Listed:
    slug: str
    hashes: list[str]
    listed_at: float
    error: ReconcilerError | None = None


@dataclass(slots=True)
class _EventProgress:
    """One event's claims in flight; the writer finishing its last chunk writes the meta item."""

    slug: str
    chunks_left: int
    created: int = 0
    existing: int = 0
    failed: bool = False
    lock: threading.Lock = field(default_factory=threading.Lock)

    def chunk_done(self, created: int, existing: int, failed: bool) -> bool:
        with self.lock:
            self.created += created
            self.existing += existing
            self.failed = self.failed or failed
            self.chunks_left -= 1
            return self.chunks_left == 0


def iso_utc_now() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


class Backfill:
    """One backfill run over the slugs it is given; :meth:`run` returns its summary."""

    def __init__(
        self,
        attendees: AttendeeHashes,
        ledger: LedgerClaims,
        options: BackfillOptions,
        *,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], None] = time.sleep,
        wall: Callable[[], str] = iso_utc_now,
    ) -> None:
        self._attendees = attendees
        self._ledger = ledger
        self._options = options
        self._clock = clock
        self._sleep = sleep
        self._wall = wall
        self._log = get_logger("reconciler.backfill")
        self._lock = threading.Lock()
        self._stop = threading.Event()
        self._error: str | None = None
        self._events = 0
        self._attendee_count = 0
        self._created = 0
        self._existing = 0
        self._completed = 0
        self._slots = threading.Semaphore(MAX_QUEUED_CHUNKS)
        self._room = threading.Condition()
        self._held = 0
        self._submitted = 0
        self._oldest = -1
        self._exhausted = False

    def run(self, slugs: Iterable[str]) -> BackfillSummary:
        started = self._clock()
        options = self._options
        pending = iter(slugs)
        listers = ThreadPoolExecutor(options.concurrency, thread_name_prefix="backfill-list")
        writers = ThreadPoolExecutor(options.writers, thread_name_prefix="backfill-write")
        listing: deque[tuple[int, Future[_Listed]]] = deque()
        try:
            while not self._stop.is_set():
                self._top_up(pending, listing, listers)
                if not listing:
                    break
                index, oldest = listing.popleft()
                with self._room:
                    self._oldest = index
                    self._room.notify_all()
                self._dispatch(oldest.result(), writers)
            writers.shutdown(wait=True)
        finally:
            # Normally a no-op; on Ctrl-C it makes the writers stop after their current claim.
            self._stop.set()
            with self._room:
                self._room.notify_all()
            listers.shutdown(wait=True, cancel_futures=True)
            writers.shutdown(wait=True, cancel_futures=True)
        summary = BackfillSummary(
            events=self._events,
            attendees=self._attendee_count,
            entries_created=self._created,
            entries_existing=self._existing,
            events_completed=self._completed,
            dry_run=options.dry_run,
            seconds=self._clock() - started,
            error=self._error,
        )
        self._log.info("backfill_finished", **summary.to_dict())
        return summary

    def _top_up(
        self,
        pending: Iterator[str],
        listing: deque[tuple[int, Future[_Listed]]],
        listers: ThreadPoolExecutor,
    ) -> None:
        """Keep the listing ahead of the claims, so it goes on while the oldest event settles:
        one settle window for the whole run, not one per event."""
        while len(listing) < MAX_LISTED_AHEAD and not self._exhausted:
            try:
                slug = next(pending)
            except StopIteration:
                self._exhausted = True
                return
            except ReconcilerError as exc:  # listing the events themselves failed
                self._exhausted = True
                self._fail("", exc)
                return
            listing.append((self._submitted, listers.submit(self._list, self._submitted, slug)))
            self._submitted += 1

    def _list(self, index: int, slug: str) -> _Listed:
        # Listed events wait in memory for their settle window: hold only so many entries,
        # except for the event the claims wait for (else later ones could starve it).
        with self._room:
            while (
                self._held >= MAX_HELD_ENTRIES and index != self._oldest and not self._stop.is_set()
            ):
                self._room.wait()
        if self._stop.is_set():
            return _Listed(slug, [], self._clock())
        try:
            hashes = list(self._attendees.item_hashes(slug))
        except ReconcilerError as exc:
            return _Listed(slug, [], self._clock(), exc)
        with self._room:
            self._held += len(hashes)
        return _Listed(slug, hashes, self._clock())

    def _release(self, listed: _Listed) -> None:
        with self._room:
            self._held -= len(listed.hashes)
            self._room.notify_all()

    def _dispatch(self, listed: _Listed, writers: ThreadPoolExecutor) -> None:
        """Hand one listed event's claims to the writers once its settle window has passed."""
        self._events += 1
        if listed.error is not None:
            self._fail(listed.slug, listed.error)
            return
        self._attendee_count += len(listed.hashes)
        if self._options.dry_run:
            self._release(listed)
            self._log.info("backfill_event_listed", slug=listed.slug, attendees=len(listed.hashes))
            return
        if listed.hashes:
            wait = listed.listed_at + self._options.settle_seconds - self._clock()
            if wait > 0:
                self._sleep(wait)
        self._release(listed)
        if self._stop.is_set():
            return
        chunks = [listed.hashes[i : i + CHUNK] for i in range(0, len(listed.hashes), CHUNK)]
        progress = _EventProgress(listed.slug, len(chunks))
        if not chunks:
            writers.submit(self._finish, progress).add_done_callback(self._surface)
        for chunk in chunks:
            self._slots.acquire()
            task = writers.submit(self._claim_chunk, progress, chunk)
            task.add_done_callback(self._surface)

    def _claim_chunk(self, progress: _EventProgress, chunk: list[str]) -> None:
        created = existing = 0
        failed = True  # until every claim of the chunk is made: a break or a crash leaves it
        try:
            for item_hash in chunk:
                if self._stop.is_set():
                    break
                try:
                    fresh = self._ledger.claim(progress.slug, item_hash)
                except ReconcilerError as exc:
                    self._fail(progress.slug, exc)
                    break
                created += fresh
                existing += not fresh
            else:
                failed = False
        finally:
            self._slots.release()
            with self._lock:
                self._created += created
                self._existing += existing
            last = progress.chunk_done(created, existing, failed)
        if last:
            self._finish(progress)

    def _finish(self, progress: _EventProgress) -> None:
        """The meta item, only when every listed attendee of the event has its entry."""
        if progress.failed or self._stop.is_set():
            return
        try:
            self._ledger.mark_backfilled(progress.slug, self._wall())
        except ReconcilerError as exc:
            self._fail(progress.slug, exc)
            return
        with self._lock:
            self._completed += 1
        self._log.info(
            "backfill_event_completed",
            slug=progress.slug,
            entries_created=progress.created,
            entries_existing=progress.existing,
        )

    def _surface(self, task: Future[None]) -> None:
        """A writer task that raised something unexpected (a bug) fails the run, not silently."""
        if task.cancelled():
            return
        exc = task.exception()
        if exc is not None:
            self._fail("", ReconcilerError(f"backfill writer crashed: {type(exc).__name__}"))

    def _fail(self, slug: str, exc: ReconcilerError) -> None:
        with self._lock:
            first = self._error is None
            if first:
                self._error = f"{slug}: {exc}" if slug else str(exc)
        self._stop.set()
        if first:
            self._log.error("backfill_failed", slug=slug, error=str(exc))
