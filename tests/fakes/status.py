"""A fixed status page history: the unit tests read it, the browser test screenshots it.

Everything is derived from constants (no clock, no randomness), so the page rendered from
:func:`sample_snapshot` is the same bytes on every machine and the committed screenshot can be
compared with a fresh one.
"""

from __future__ import annotations

from dataclasses import dataclass

from reconciler.reconcile.core import BrakeDecision
from reconciler.reconcile.summary import PassSummary
from reconciler.serve.metric_labels import Outcome
from reconciler.serve.status import StatusHistory, StatusSnapshot

STARTED = 1_795_000_000.0
"""2026-11-18 11:06:40 UTC: the sample's first pass finishes then."""
EVERY = 300.0
BRAKE_REASON = "8 corrections exceed --max-corrections 5"

SAMPLE_PASSES: tuple[tuple[Outcome, int, int, tuple[str, ...]], ...] = (
    # (outcome, drift over, drift under, corrected slugs)
    (Outcome.SUCCESS, 0, 0, ()),
    (Outcome.SUCCESS, 2, 0, ("pycon-lisbon-2026", "rust-meetup-oslo")),
    (Outcome.SUCCESS, 0, 1, ("kubecon-day-2",)),
    (Outcome.SUCCESS, 0, 0, ()),
    (Outcome.FAILURE, 0, 0, ()),
    (Outcome.SUCCESS, 1, 3, ("devopsdays-gent", "jsconf-budapest", "pgday-paris", "goto-aarhus")),
    (Outcome.SUCCESS, 0, 0, ()),
    (Outcome.ABORTED, 1, 0, ()),
    (Outcome.BRAKE, 6, 2, ()),
    (Outcome.SUCCESS, 1, 0, ("fosdem-go-room",)),
    (Outcome.SUCCESS, 0, 0, ()),
    (Outcome.SUCCESS, 0, 2, ("euroscipy-poster-night", "kotlinconf-workshops")),
)
"""Twelve passes: clean ones, drift both ways, a failure, an aborted pass and a braked one."""


@dataclass
class FakeLease:
    owner: str = "reconciler-7f9c-1"
    held: bool = True
    seen_holder: str | None = None

    @property
    def holder(self) -> str | None:
        return self.owner if self.held else self.seen_holder

    def is_held(self) -> bool:
        return self.held


def sample_summary(index: int) -> tuple[PassSummary, Outcome]:
    outcome, over, under, slugs = SAMPLE_PASSES[index]
    summary = PassSummary(
        run_id=f"run-{index + 1:03d}",
        events_checked=120 + index,
        drifted=over + under,
        drift_over=over,
        drift_under=under,
        failed=outcome is Outcome.FAILURE,
    )
    if outcome is Outcome.BRAKE:
        summary.brake = BrakeDecision(tripped=True, reason=BRAKE_REASON)
    for slug in slugs:
        summary.note_corrected(slug)
    return summary, outcome


def sample_history(passes: int = len(SAMPLE_PASSES)) -> StatusHistory:
    history = StatusHistory()
    for index in range(passes):
        summary, outcome = sample_summary(index)
        history.record(
            summary, outcome, finished_at=STARTED + EVERY * index, duration=2.5 + index / 10
        )
    return history


def sample_snapshot(
    *, lease: FakeLease | None = None, passes: int = len(SAMPLE_PASSES), running: bool = False
) -> StatusSnapshot:
    return sample_history(passes).snapshot(
        now=STARTED + EVERY * len(SAMPLE_PASSES),
        version="0.2.0",
        lease=lease if lease is not None else FakeLease(),
        pass_in_progress=running,
    )
