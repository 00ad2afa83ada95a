"""Deterministic delivery faults for the local pump: what at-least-once delivery can do.

A batch may be delivered twice (the checkpoint was lost), never (its retries were spent and
the mapping gave up) or late. Tests name exact batches; demos draw at seeded rates.
"""

from __future__ import annotations

import random
from dataclasses import dataclass


@dataclass(frozen=True, slots=True)
class Faults:
    """What happens to one batch."""

    duplicate: bool = False
    drop: bool = False
    delay: float = 0.0


@dataclass(frozen=True, slots=True)
class FaultPlan:
    """Which batches (numbered from 0 in delivery order) get which fault.

    Explicit indexes for exact tests; rates with a seed for demos. Each batch's draw depends
    only on the seed and its index, so a run is reproducible whatever happened before.
    A dropped batch is never also duplicated or delayed.
    """

    duplicate_batches: frozenset[int] = frozenset()
    drop_batches: frozenset[int] = frozenset()
    delay_batches: frozenset[int] = frozenset()
    delay_seconds: float = 0.0
    duplicate_rate: float = 0.0
    drop_rate: float = 0.0
    delay_rate: float = 0.0
    seed: int = 0

    def __post_init__(self) -> None:
        for rate in (self.duplicate_rate, self.drop_rate, self.delay_rate):
            if not 0.0 <= rate <= 1.0:
                raise ValueError("fault rates must be between 0 and 1")
        if self.delay_seconds < 0:
            raise ValueError("delay_seconds must not be negative")

    def faults_for(self, index: int) -> Faults:
        rng = random.Random(f"{self.seed}:{index}")
        drop = index in self.drop_batches or rng.random() < self.drop_rate
        duplicate = index in self.duplicate_batches or rng.random() < self.duplicate_rate
        delayed = index in self.delay_batches or rng.random() < self.delay_rate
        if drop:
            return Faults(drop=True)
        return Faults(duplicate=duplicate, delay=self.delay_seconds if delayed else 0.0)
