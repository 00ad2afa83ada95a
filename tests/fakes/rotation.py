"""In-memory :class:`reconciler.reconcile.ports.RotationStore`: the cycle per scope and the
verification records, with the same ordering and conditional save as the state table."""

from __future__ import annotations

import threading
from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

from reconciler.kernel.errors import ConflictError
from reconciler.reconcile.rotation_core import Cycle
from reconciler.reconcile.summary import IoStats


@dataclass
class FakeRotationStore:
    cycles: dict[str, Cycle] = field(default_factory=dict)
    fingerprints: dict[str, str] = field(default_factory=dict)
    """Record key (``<slug>#``) -> fingerprint."""
    requests: Counter[str] = field(default_factory=Counter)
    saves: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def load_cycle(self, scope: str) -> Cycle:
        with self.lock:
            self.requests["GetItem"] += 1
            return self.cycles.get(scope, Cycle())

    def save_cycle(self, scope: str, cycle: Cycle) -> None:
        with self.lock:
            self.requests["PutItem"] += 1
            current = self.cycles.get(scope, Cycle())
            if current.revision != cycle.revision - 1:
                raise ConflictError("PutItem: condition failed")
            self.cycles[scope] = cycle
            self.saves += 1

    def records(self, start: str | None, stop: str | None) -> Iterator[tuple[str, str]]:
        with self.lock:
            self.requests["Query"] += 1
            chosen = sorted(
                (key, fp)
                for key, fp in self.fingerprints.items()
                if (start is None or key >= start) and (stop is None or key < stop)
            )
        yield from chosen

    def put_records(self, records: Sequence[tuple[str, str]]) -> None:
        with self.lock:
            self.requests["BatchWriteItem"] += 1
            self.fingerprints.update(records)

    def delete_records(self, keys: Sequence[str]) -> None:
        with self.lock:
            self.requests["BatchWriteItem"] += 1
            for key in keys:
                self.fingerprints.pop(key, None)

    def stats(self) -> IoStats:
        with self.lock:
            return IoStats(requests=dict(self.requests))
