"""Audit records of the ledger path's per-key repairs, and the phases every audit record shares.

A key repair flips one ledger entry and moves the counter by one in a transaction; like a
counter correction it is written ahead: an *intent* line before the transaction, an *outcome*
line after it, and a later pass settles an intent left without an outcome (a run killed in
between) by reading the entry back (``phase: "resolved"``). The item is named by its hash and
the event by its slug and key: the attendee's e-mail address never reaches an audit line. The
entry's position (stream label and sequence number) is recorded because the read-back compares
against it; it says nothing about the attendee.

The three phases are the same for counter corrections (:mod:`reconciler.reconcile.audit`), so
the two helpers that move a record between phases live here once, for both kinds.
"""

from __future__ import annotations

import dataclasses
from dataclasses import asdict, dataclass
from typing import Any, Protocol, TypeVar

from reconciler.kernel.ledger import Entry, Position
from reconciler.reconcile.core import CorrectionOutcome
from reconciler.reconcile.ledger_core import KeyDirection, KeyRepair, key_repair_written


class PhasedRecord(Protocol):
    """An audit record with the write-ahead fields (a frozen dataclass)."""

    @property
    def phase(self) -> str: ...

    @property
    def outcome(self) -> str | None: ...

    @property
    def time(self) -> str: ...


R = TypeVar("R", bound=PhasedRecord)


def as_intent(record: R) -> R:
    """The line written before the write: its outcome is not known yet."""
    return dataclasses.replace(record, outcome=None, phase="intent")  # type: ignore[type-var]


def settled(intent: R, applied: bool, run_id: str, time: str) -> R:
    """The ``resolved`` line of an intent a later pass read back: ``applied`` when the item
    holds exactly what the write sets, else ``conflict`` (never written, or overwritten since;
    the pass checks the item again either way). Paired with its intent by the intent's run."""
    outcome = CorrectionOutcome.APPLIED if applied else CorrectionOutcome.CONFLICT
    return dataclasses.replace(  # type: ignore[type-var]
        intent, outcome=outcome.value, phase="resolved", resolved_by=run_id, time=time
    )


@dataclass(frozen=True, slots=True)
class KeyRepairRecord:
    """One per-key repair of the ledger path: the item by its hash, never by its key."""

    run_id: str
    partition: str
    sort_key: str
    slug: str
    item: str
    """The ledger's name of the attendee item (``item_hash``); the e-mail is never recorded."""
    direction: str
    """``missing`` (entry written present, +1) or ``extra`` (written absent, -1)."""
    delta: int
    outcome: str | None
    """A :class:`CorrectionOutcome` value; ``None`` on an intent line."""
    hold: str | None
    time: str
    kind: str = "key_repair"
    """Tells these lines from the counter corrections' in a shared audit file."""
    phase: str = "outcome"
    """``intent`` (before the transaction), ``outcome`` (after it) or ``resolved``."""
    position: str | None = None
    """The entry's position, kept by the repair: with ``direction``, the entry a read-back
    must find for the repair to have been written."""
    resolved_by: str | None = None
    """On a ``resolved`` line: the run that read the entry back."""

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @property
    def pairing(self) -> tuple[str, str, str, str]:
        """An intent and its outcome share the run, the event and the item."""
        return (self.run_id, self.partition, self.sort_key, self.item)

    @property
    def entry(self) -> Entry:
        """The entry the repair writes: what a read-back must find for it to have landed."""
        return Entry(self.direction == KeyDirection.MISSING.value, Position.parse(self.position))


class KeyAuditSink(Protocol):
    def write_key_repair(self, record: KeyRepairRecord) -> None: ...


def key_repair_record(
    run_id: str, repair: KeyRepair, outcome: CorrectionOutcome, time: str
) -> KeyRepairRecord:
    if outcome is CorrectionOutcome.IN_FLUX:
        raise ValueError("an item in flux was never confirmed, so it has no repair to audit")
    position = repair.entry.position
    return KeyRepairRecord(
        run_id=run_id,
        partition=repair.event.partition,
        sort_key=repair.event.sort_key,
        slug=repair.event.slug,
        item=repair.item,
        direction=repair.direction.value,
        delta=repair.delta,
        outcome=outcome.value,
        hold=outcome.value if outcome.held else None,
        time=time,
        position=position.render() if position is not None else None,
    )


def key_intent_record(run_id: str, repair: KeyRepair, time: str) -> KeyRepairRecord:
    return as_intent(key_repair_record(run_id, repair, CorrectionOutcome.APPLIED, time))


def resolve_key_intent(
    intent: KeyRepairRecord, entry: Entry | None, run_id: str, time: str
) -> KeyRepairRecord:
    """Settle a key-repair intent without an outcome line by the entry read back."""
    return settled(intent, key_repair_written(intent.entry, entry), run_id, time)


KEY_LOG_EVENTS = {
    CorrectionOutcome.APPLIED: "ledger_key_repaired",
    CorrectionOutcome.CONFLICT: "ledger_key_repair_conflict",
    CorrectionOutcome.DRY_RUN: "ledger_key_repair_planned",
    CorrectionOutcome.PAUSED: "ledger_key_repair_planned",
    CorrectionOutcome.BRAKED: "ledger_key_repair_planned",
}
KEY_INTENT_LOG_EVENT = "ledger_key_repair_intent"


class FanOutKeyAuditSink:
    def __init__(self, *sinks: KeyAuditSink) -> None:
        self._sinks = sinks

    def write_key_repair(self, record: KeyRepairRecord) -> None:
        for sink in self._sinks:
            sink.write_key_repair(record)
