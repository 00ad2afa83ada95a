"""What the demo runs against and how hard it shakes it: the events, and the knobs of a run."""

from __future__ import annotations

from dataclasses import dataclass, field

from reconciler.devtools.pump import FaultPlan
from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.model import EventKey, TableModel
from reconciler.kernel.settings import TableSettings

DEMO_TABLE = "registrations-demo"
"""Prefix of the demo table; each run adds a suffix, because moto servers started in one
process share their state (the test suite runs the demo beside its own server)."""
DEMO_REGION = "us-east-1"

DEMO_EVENTS: tuple[EventKey, ...] = (
    EventKey("FAD", "tech-summit-2024#2024-10-27#conference"),
    EventKey("EVENT", "workshop#2024-11-15#workshop"),
    EventKey("EVENT", "workshop-ai#2024-11-15#workshop"),
    EventKey("EVENT", "cloud-meetup#2024-12-03#meetup"),
    EventKey("FAD", "data-days#2025-01-20#conference"),
)
HOT_EVENT = EventKey("FAD", "ticket-rush#2025-03-01#conference")
"""The event of acts 4 and 5: registrations keep arriving while it is broken and repaired."""
ORPHAN_SLUG = "ghost-hackathon"
"""Registrations arrive for it, but no event item exists: the handler must not guess."""


@dataclass(frozen=True, slots=True)
class DemoOptions:
    seed: int = 7
    registrations: int = 60
    removals: int = 14
    profile_updates: int = 8
    orphan_registrations: int = 3
    batch_size: int = spec.BATCH_SIZE
    batching_window: float = 0.05
    """Short, so the demo takes seconds; the deployed window is BATCHING_WINDOW_SECONDS."""
    faults: FaultPlan = field(
        default_factory=lambda: FaultPlan(
            duplicate_batches=frozenset({1, 3, 6}), drop_batches=frozenset({4, 9})
        )
    )
    hand_edit: tuple[EventKey, int] | None = (DEMO_EVENTS[0], 25)
    """An event whose counter an operator "fixes" by hand, and the value written."""
    settle_seconds: float = 2.0
    """Short for the demo; the deployed default (120 s) outlasts the batching window + retries."""
    serve_seconds: float = 6.0
    serve_every: float = 2.0
    metrics_port: int = 0
    """0 picks a free port; 9464 matches deploy/prometheus/prometheus.yml."""
    hot: bool = True
    """Acts 4 and 5, the hot event; False leaves them out."""
    hot_interval: float = 0.2
    """Seconds between two registrations for the hot event, for as long as acts 4 and 5 run."""
    hot_warmup: float = 1.5
    """Seconds of hot traffic before a batch is made to fail."""
    hot_batching_window: float = 0.6
    """The hot pump's batching window: a few registrations per batch."""
    hot_settle_seconds: float = 1.5
    """Settle window of the passes on the hot event (the per-key recheck)."""
    hot_hand_edit: int = 100
    """What the hot event's counter is set to by hand in act 5."""
    hot_min_passes: int = 2
    """Passes shown even once the counter is exact: the steady state under traffic."""
    hot_max_passes: int = 5


def demo_table(table_name: str) -> TableSettings:
    return TableSettings(table_name=table_name, model=TableModel())
