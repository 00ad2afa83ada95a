"""In-memory fakes of the backfill's ports (reconciler.reconcile.backfill).

``FakeLedger`` keeps entries in a dict and enforces the adapter's condition (no entry yet);
``FakeAttendees`` hands out item hashes per slug. Both can be told to fail, and the ledger
records when (by the test's clock) each claim was made.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field

from reconciler.kernel.errors import ReconcilerError
from reconciler.kernel.ledger import item_hash


def hashes_of(slug: str, count: int) -> list[str]:
    return [item_hash(f"{slug}#ATTENDEE", f"person-{i}@example.com") for i in range(count)]


@dataclass
class FakeAttendees:
    by_slug: dict[str, list[str]] = field(default_factory=dict)
    failing: dict[str, ReconcilerError] = field(default_factory=dict)
    listed: list[str] = field(default_factory=list)

    def add(self, slug: str, count: int) -> list[str]:
        self.by_slug[slug] = hashes_of(slug, count)
        return self.by_slug[slug]

    def item_hashes(self, slug: str) -> Iterator[str]:
        self.listed.append(slug)
        if slug in self.failing:
            raise self.failing[slug]
        yield from self.by_slug.get(slug, [])


@dataclass
class FakeLedger:
    clock: Callable[[], float] = lambda: 0.0
    entries: dict[tuple[str, str], bool] = field(default_factory=dict)
    backfilled: dict[str, str] = field(default_factory=dict)
    claimed_at: list[float] = field(default_factory=list)
    fail_after: int | None = None
    """Claims that succeed before every further claim raises."""
    crash_after: int | None = None
    """Like ``fail_after``, but raising something that is not ours (a bug)."""
    failing_meta: ReconcilerError | None = None
    lock: threading.Lock = field(default_factory=threading.Lock)

    def claim(self, slug: str, item_hash: str) -> bool:
        with self.lock:
            made = len(self.claimed_at)
            if self.fail_after is not None and made >= self.fail_after:
                raise ReconcilerError("PutItem failed with InternalServerError: try again")
            if self.crash_after is not None and made >= self.crash_after:
                raise KeyError("a bug")
            self.claimed_at.append(self.clock())
            if (slug, item_hash) in self.entries:
                return False
            self.entries[(slug, item_hash)] = True
            return True

    def mark_backfilled(self, slug: str, at: str) -> None:
        if self.failing_meta is not None:
            raise self.failing_meta
        with self.lock:
            self.backfilled[slug] = at

    def present(self, slug: str) -> list[str]:
        return sorted(h for (s, h), present in self.entries.items() if s == slug and present)
