"""Concurrent lanes of one shard: the mapping's parallelization factor and a split hot key.

With ``ParallelizationFactor`` N, Lambda processes up to N batches of one shard at once and
keeps order only per item. When DynamoDB splits a partition for heat, one partition key's
items are spread over two shards, processed concurrently. Both mean the same thing to the
handler: records of different items of one event arrive concurrently, in any order. Locally
each record goes to a lane chosen by a stable hash of its item's key, so one item always takes
the same lane (its order is kept) and lanes run in threads, each delivering its own batches.

The pump's bookkeeping is not thread-safe, so the lanes pass one lock around (:class:`Baton`):
a lane holds it except while its handler runs. Handlers overlap; nothing else does.
"""

from __future__ import annotations

import json
import threading
import zlib
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

Record = dict[str, Any]

SPLIT_SHARDS = 2
"""A split for heat spreads the hot partition key over this many child shards."""


@dataclass(frozen=True, slots=True)
class LanePlan:
    parallelization_factor: int = 1
    split_hot_key: str | None = None
    """A partition key value whose items are spread over :data:`SPLIT_SHARDS` shards."""

    @property
    def concurrent(self) -> bool:
        return self.parallelization_factor > 1 or self.split_hot_key is not None

    def lane_of(self, record: Mapping[str, Any], hash_key: str | None) -> int:
        """Lanes ``0..N-1`` for the shard's records, ``N..N+1`` for the split hot key's."""
        keys = record.get("dynamodb", {}).get("Keys", {})
        spread = zlib.crc32(json.dumps(keys, sort_keys=True).encode())
        partition = keys.get(hash_key, {}).get("S") if hash_key else None
        if self.split_hot_key is not None and partition == self.split_hot_key:
            return self.parallelization_factor + spread % SPLIT_SHARDS
        return spread % self.parallelization_factor

    def lanes(self, records: Sequence[Record], hash_key: str | None) -> list[list[Record]]:
        """The records dealt into lanes, each in stream order; empty lanes left out."""
        dealt: dict[int, list[Record]] = {}
        for record in records:
            dealt.setdefault(self.lane_of(record, hash_key), []).append(record)
        return [dealt[lane] for lane in sorted(dealt)]


class Baton:
    """The pump's one lock in concurrent mode; a no-op for a thread that does not hold it."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holder = threading.local()

    @contextmanager
    def held(self) -> Iterator[None]:
        with self._lock:
            self._holder.held = True
            try:
                yield
            finally:
                self._holder.held = False

    @contextmanager
    def released(self) -> Iterator[None]:
        """Around a handler call: other lanes may run while this one waits for it."""
        if not getattr(self._holder, "held", False):
            yield
            return
        self._holder.held = False
        self._lock.release()
        try:
            yield
        finally:
            self._lock.acquire()
            self._holder.held = True


def run_lanes(
    lanes: Sequence[list[Record]],
    batch_size: int,
    deliver: Callable[[list[Record]], None],
    baton: Baton,
) -> None:
    """Each lane delivers its records in batches of ``batch_size``; lanes run concurrently and
    this returns when all are done (a failure in one is raised here)."""

    def drive(records: list[Record]) -> None:
        with baton.held():
            for start in range(0, len(records), batch_size):
                deliver(records[start : start + batch_size])

    with ThreadPoolExecutor(max_workers=max(len(lanes), 1)) as pool:
        for future in [pool.submit(drive, lane) for lane in lanes]:
            future.result()
