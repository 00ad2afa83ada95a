"""The exactness SLI: events whose counter was found exact, out of those the pass could judge.

Owned by :class:`reconciler.serve.metrics.ReconcilerMetrics`; the recording rules and burn-rate
alerts of ``deploy/prometheus/slo.yml`` divide one by the other. A pass *judges* an event when it
finds its counter in sync, or confirms a correction for it (the second look, after the settle
window, saw the same wrong counter). A first look that the second did not confirm was most
likely the handler's in-flight work, not an error; vanished and ambiguous events say nothing
about a counter. Those are in neither series: otherwise a busy table would burn the error
budget with updates still on their way, and one duplicated event item would burn it forever.
"""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter

from reconciler.reconcile.summary import PassSummary


class ExactnessMetrics:
    def __init__(self, registry: CollectorRegistry) -> None:
        self.judged = Counter(
            "reconciler_sli_events_checked",
            "Events found in sync, or with a correction confirmed after the settle window: the "
            "exactness SLI's total.",
            registry=registry,
        )
        self.exact = Counter(
            "reconciler_sli_events_exact",
            "Checked events found in sync: the exactness SLI's good events.",
            registry=registry,
        )

    def observe(self, summary: PassSummary) -> None:
        exact = max(summary.in_sync, 0)
        self.exact.inc(exact)
        self.judged.inc(exact + max(summary.confirmed, 0))


__all__ = ["ExactnessMetrics"]
