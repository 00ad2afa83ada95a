"""Reconciliation passes as ``reconciler run --once`` makes them, with their audit kept in
memory so the demo can show what each pass wrote."""

from __future__ import annotations

from reconciler.kernel.aws import Clients
from reconciler.reconcile.audit import AuditRecord
from reconciler.reconcile.bootstrap import build_reconciler
from reconciler.reconcile.settings import RunSettings
from reconciler.reconcile.summary import PassSummary


class _CollectAudit:
    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def write(self, record: AuditRecord) -> None:
        # Intent lines (written ahead of each correction) say nothing an outcome does not.
        if record.outcome is not None:
            self.records.append(record)


def reconcile(clients: Clients, settings: RunSettings) -> tuple[PassSummary, list[AuditRecord]]:
    """One pass and the outcomes of its corrections."""
    collected = _CollectAudit()
    reconciler = build_reconciler(settings, clients, extra_audit_sinks=[collected])
    try:
        summary = reconciler.run_pass()
    finally:
        reconciler.close()
    return summary, collected.records
