"""An in-memory ledger store: the event counters and the ledger entries, with the conditions
the real ``TransactWriteItems`` states evaluated on them, so unit tests exercise the handler's
decisions; the integration tests prove the expressions on a moto server."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from reconciler.handler.ledger import CounterChange, CounterRead, ItemFold
from reconciler.handler.ledger_store import LedgerRead, counter_read
from reconciler.kernel.errors import ConflictError, ThrottledError
from reconciler.kernel.ledger import Entry
from reconciler.kernel.model import EventKey, TableModel

Item = dict[str, dict[str, Any]]


@dataclass
class FakeLedgerStore:
    model: TableModel = field(default_factory=TableModel)
    items: dict[EventKey, Item] = field(default_factory=dict)
    entries: dict[tuple[str, str], Entry] = field(default_factory=dict)
    """(slug, item hash) -> entry."""
    calls: list[tuple[str, EventKey]] = field(default_factory=list)
    failing: set[EventKey] = field(default_factory=set)
    """Keys whose commits raise ThrottledError, as a throttled table would after retries."""
    before_commit: Callable[[EventKey], None] | None = None
    """Runs before each commit: lets a test play a concurrent writer (the reconciler, a
    concurrent batch) between the read and the write."""

    # --- what tests set up and look at --------------------------------------------------------

    def put_event(self, key: EventKey, count: object = 0, version: int | str = 0) -> None:
        item: Item = {}
        if isinstance(count, int):
            item[self.model.counter_attr] = {"N": str(count)}
        elif isinstance(count, dict):
            item[self.model.counter_attr] = count
        elif count is not None:
            item[self.model.counter_attr] = {"S": str(count)}
        if isinstance(version, str):
            item[self.model.version_attr] = {"S": version}
        elif version:
            item[self.model.version_attr] = {"N": str(version)}
        self.items[key] = item

    def count(self, key: EventKey) -> int:
        return int(self.items[key][self.model.counter_attr]["N"])

    def version(self, key: EventKey) -> int:
        return int(self.items[key].get(self.model.version_attr, {"N": "0"})["N"])

    def present(self, slug: str) -> int:
        return sum(1 for (s, _), e in self.entries.items() if s == slug and e.present)

    def writes(self) -> int:
        return sum(1 for name, _ in self.calls if name == "commit")

    # --- the port -----------------------------------------------------------------------------

    def read(self, key: EventKey, slug: str, items: Sequence[str]) -> LedgerRead | None:
        self.calls.append(("read", key))
        counter = counter_read(self.items.get(key), self.model)
        if counter is None:
            return None
        return LedgerRead(counter, {item: self.entries.get((slug, item)) for item in items})

    def commit(
        self,
        key: EventKey,
        slug: str,
        counter: CounterRead,
        change: CounterChange,
        writes: Sequence[ItemFold],
    ) -> None:
        self.calls.append(("commit", key))
        if self.before_commit is not None:
            self.before_commit(key)
        if key in self.failing:
            raise ThrottledError("TransactWriteItems throttled after retries")
        item = self.items.get(key)
        if item is None:
            raise ConflictError("TransactWriteItems: transaction cancelled")
        for written in writes:
            if self.entries.get((slug, written.item)) != written.before:
                raise ConflictError("TransactWriteItems: transaction cancelled")
        model = self.model
        raw = item.get(model.counter_attr)
        if change.add is not None:
            current = 0 if raw is None else int(raw["N"])
            if current + change.add < 0 or current < 0:
                raise ConflictError("TransactWriteItems: transaction cancelled")
            item[model.counter_attr] = {"N": str(current + change.add)}
        else:
            if raw != (None if counter.raw_count is None else dict(counter.raw_count)):
                raise ConflictError("TransactWriteItems: transaction cancelled")
            item[model.counter_attr] = {"N": str(change.set_to or 0)}
        version = int(item.get(model.version_attr, {"N": "0"})["N"])
        item[model.version_attr] = {"N": str(version + 1)}
        for written in writes:
            self.entries[(slug, written.item)] = written.after
