"""Delivering stream records to the handler as Lambda would, and reading back the metrics it
emitted: shared by the handler's counting, replay and failure tests against moto."""

from __future__ import annotations

import json
from typing import Any

from reconciler.kernel.model import EventKey
from tests.integration.traffic import Table

TECH = EventKey("FAD", "tech-summit-2024#2024-10-27#conference")
WORKSHOP = EventKey("EVENT", "workshop#2024-11-15#workshop")
WORKSHOP_AI = EventKey("EVENT", "workshop-ai#2024-11-15#workshop")


def metrics(table: Table) -> list[dict[str, Any]]:
    return [json.loads(line) for line in table.emf.getvalue().splitlines()]


def total(table: Table, name: str) -> int:
    return sum(int(line[name]) for line in metrics(table))


def deliver(table: Table, records: list[dict[str, Any]], size: int = 10) -> None:
    handler = table.handler()
    for start in range(0, len(records), size):
        assert handler.handle({"Records": records[start : start + size]}) == {
            "batchItemFailures": []
        }
