"""The exactness SLI: events whose stored count was found exact, out of those judged.

Owned by :class:`reconciler.serve.metrics.ReconcilerMetrics`; the recording rules and burn-rate
alerts of ``deploy/prometheus/slo.yml`` divide one by the other. An event is *judged* when its
first look compared a stored count with the truth: in sync, drifted, missing or invalid. Events
that vanished, were ambiguous, changed while looked at, or whose only fault is an unreadable
``counterVersion`` say nothing about the count, so they are in neither series; otherwise a
table with one duplicated event item would burn the error budget on every pass forever.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from reconciler.reconcile.summary import PassSummary


class ExactnessMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.judged = Counter(
            "reconciler_sli_events_checked",
            "Events whose stored count a first look compared with the truth (in sync, drifted, "
            "missing or invalid): the exactness SLI's total.",
            registry=registry,
        )
        self.exact = Counter(
            "reconciler_sli_events_exact",
            "Checked events whose stored count equalled the truth at the first look: the "
            "exactness SLI's good events.",
            registry=registry,
        )

    def observe(self, summary: PassSummary) -> None:
        exact = max(summary.in_sync, 0)
        faulty = max(summary.drifted, 0) + max(summary.missing, 0) + max(summary.invalid, 0)
        self.exact.inc(exact)
        self.judged.inc(exact + faulty)


__all__ = ["ExactnessMetrics"]
