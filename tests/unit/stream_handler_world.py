"""The stream handler wired to fakes, with three events, shared by the counting, replay and
failure tests: each of them then reads as the records it delivers and what the store holds."""

from __future__ import annotations

from typing import Any

from reconciler.handler.batch import StreamHandler
from reconciler.kernel.model import EventKey, TableModel
from tests.fakes.handler import (
    FakeEventLocator,
    FakeMetrics,
    Sequencer,
    batch,
    insert,
)
from tests.fakes.ledger import FakeLedgerStore

TECH = EventKey("FAD", "tech-summit-2024#2024-10-27#conference")
WORKSHOP = EventKey("EVENT", "workshop#2024-11-15#workshop")
WORKSHOP_AI = EventKey("EVENT", "workshop-ai#2024-11-15#workshop")


class World:
    """A handler wired to fakes, with the three events above and a sequence source."""

    def __init__(self, conflict_retries: int = 5) -> None:
        self.store = FakeLedgerStore()
        self.locator = FakeEventLocator()
        self.metrics = FakeMetrics()
        self.seq = Sequencer()
        self._people = 0
        for key in (TECH, WORKSHOP, WORKSHOP_AI):
            self.locator.add(key)
            self.store.put_event(key, 0)
        self.handler = StreamHandler(
            self.locator,
            self.store,
            self.metrics,
            TableModel(),
            conflict_retries=conflict_retries,
        )

    def handle(self, records: list[dict[str, Any]]) -> dict[str, Any]:
        return self.handler.handle(batch(records))

    def registrations(self, slug: str, n: int) -> list[dict[str, Any]]:
        """``n`` new attendees (each e-mail used once in a world: a second INSERT of one key
        would be a MODIFY on a real stream)."""
        records = []
        for _ in range(n):
            self._people += 1
            records.append(insert(slug, f"person{self._people}@example.com", self.seq()))
        return records

    def last_metrics(self) -> dict[str, int | float]:
        return self.metrics.lines[-1]
