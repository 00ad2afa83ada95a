"""The rotating sweep's Prometheus series (``--max-read-units``, ``--full-sweep-every``).

Owned by :class:`reconciler.serve.metrics.ReconcilerMetrics` (one owner of every series on the
registry); kept apart because only budgeted deployments see them move.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, Gauge

from reconciler.reconcile.rotation_core import RotationReport

ROTATION_KINDS = ("changed", "rotated", "deferred")


class RotationMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.events = Counter(
            "reconciler_rotation_events",
            "Events a rotating pass walked: recounted because their counter changed, "
            "recounted in rotation, or deferred to a later pass.",
            ["kind"],
            registry=registry,
        )
        self.cycles = Counter(
            "reconciler_rotation_cycles_completed",
            "Full cycles of the rotation: every event recounted once since the last one.",
            registry=registry,
        )
        self.budget_exhausted = Counter(
            "reconciler_rotation_budget_exhausted",
            "Passes whose read budget (--max-read-units) stopped the rotation.",
            registry=registry,
        )
        self.oldest_age = Gauge(
            "reconciler_rotation_oldest_verification_age_seconds",
            "Estimated age of the least recently recounted event's last recount "
            "(-1 until a first cycle completed).",
            registry=registry,
        )
        self.period = Gauge(
            "reconciler_rotation_period_seconds",
            "The period within which every event should be recounted (--full-sweep-every); "
            "0 without one.",
            registry=registry,
        )
        for kind in ROTATION_KINDS:
            self.events.labels(kind=kind)
        self.oldest_age.set(-1)

    def clear(self) -> None:
        """A replica that lost the lease stops reporting the leader's age."""
        self.oldest_age.set(-1)

    def observe(self, report: RotationReport | None) -> None:
        if report is None:
            return
        for kind, count in zip(
            ROTATION_KINDS, (report.changed, report.rotated, report.deferred), strict=True
        ):
            self.events.labels(kind=kind).inc(max(count, 0))
        if report.cycle_completed:
            self.cycles.inc()
        if report.budget_exhausted:
            self.budget_exhausted.inc()
        age = report.oldest_verification_age_seconds
        self.oldest_age.set(-1 if age is None else age)
        self.period.set(report.period_seconds or 0)


__all__ = ["ROTATION_KINDS", "RotationMetrics"]
