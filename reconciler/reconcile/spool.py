"""Bounded memory for a pass's suspects and confirmed corrections.

Systematic drift (a handler outage) makes every event a suspect; a pass must not then hold
every event in memory. A :class:`Spool` keeps the first items in memory and the rest as JSON
lines in an anonymous temporary file; the codecs below are the only place that knows how the
pass's values look on disk.
"""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Iterator
from typing import IO, Any, Generic, TypeVar

from reconciler.kernel.errors import ReconcilerError
from reconciler.kernel.model import EventKey
from reconciler.reconcile.core import Correction, CounterKind, Observation, Reason, StoredCounter

T = TypeVar("T")

SPOOL_IN_MEMORY = 10_000
"""Suspects (and confirmed corrections) kept in memory per pass; the rest wait in a temporary
file. Systematic drift (a handler outage) makes every event a suspect, and a pass must not
then hold every event in memory."""


class SpoolError(ReconcilerError):
    """The temporary file holding a large pass's suspects could not be written."""


class Spool(Generic[T]):
    """An append-then-iterate sequence: the first ``limit`` items in memory, the rest as JSON
    lines in an anonymous temporary file (deleted when closed)."""

    def __init__(self, limit: int, encode: Callable[[T], Any], decode: Callable[[Any], T]) -> None:
        self._limit = limit
        self._encode = encode
        self._decode = decode
        self._memory: list[T] = []
        self._file: IO[str] | None = None
        self._spilled = 0

    def append(self, item: T) -> None:
        if len(self._memory) < self._limit:
            self._memory.append(item)
            return
        try:
            if self._file is None:
                # Closed (and so deleted) by close(), at the end of the pass.
                self._file = tempfile.TemporaryFile("w+", encoding="utf-8")  # noqa: SIM115
            self._file.write(json.dumps(self._encode(item), separators=(",", ":")) + "\n")
        except OSError as exc:
            raise SpoolError(f"cannot spool pass state to a temporary file: {exc}") from exc
        self._spilled += 1

    def __len__(self) -> int:
        return len(self._memory) + self._spilled

    def __iter__(self) -> Iterator[T]:
        yield from self._memory
        if self._file is not None:
            self._file.flush()
            self._file.seek(0)
            for _ in range(self._spilled):
                yield self._decode(json.loads(self._file.readline()))

    def close(self) -> None:
        self._memory.clear()
        if self._file is not None:
            self._file.close()
            self._file = None
        self._spilled = 0


def _encode_stored(stored: StoredCounter | None) -> Any:
    if stored is None:
        return None
    return [stored.kind.value, stored.value, stored.raw, stored.version, stored.version_unreadable]


def _decode_stored(data: Any) -> StoredCounter | None:
    if data is None:
        return None
    kind, value, raw, version, unreadable = data
    return StoredCounter(CounterKind(kind), value, raw, version, unreadable)


def _encode_observation(o: Observation) -> Any:
    return [o.key.partition, o.key.sort_key, _encode_stored(o.stored), o.counted, o.at]


def _decode_observation(data: Any) -> Observation:
    partition, sort_key, stored, counted, at = data
    return Observation(EventKey(partition, sort_key), _decode_stored(stored), counted, at)


def _encode_correction(c: Correction) -> Any:
    return [c.key.partition, c.key.sort_key, c.reason.value, _encode_stored(c.stored), c.counted]


def _decode_correction(data: Any) -> Correction:
    partition, sort_key, reason, stored, counted = data
    decoded = _decode_stored(stored)
    assert decoded is not None  # a correction always has a stored counter
    return Correction(EventKey(partition, sort_key), Reason(reason), decoded, counted)


def observation_spool(limit: int = SPOOL_IN_MEMORY) -> Spool[Observation]:
    return Spool(limit, _encode_observation, _decode_observation)


def correction_spool(limit: int = SPOOL_IN_MEMORY) -> Spool[Correction]:
    return Spool(limit, _encode_correction, _decode_correction)
