"""The label values of ``reconciler serve``'s metrics, each from a small fixed set.

Kept apart from :mod:`reconciler.serve.metrics` (which declares the metrics) so the sets that
bound every label, and the clamps that map anything else to ``other``, read as one list: no
label value can come from an event, an attendee or an error message.
"""

from __future__ import annotations

import enum

from reconciler.reconcile.core import CorrectionOutcome
from reconciler.reconcile.ledger_core import KeyDirection
from reconciler.reconcile.scan_core import SweepMode
from reconciler.reconcile.summary import AwsErrorKey, PassOutcome

Outcome = PassOutcome
"""How one scheduled pass ended: the values of ``reconciler_runs_total{outcome}``."""


class SkipReason(enum.StrEnum):
    NOT_LEADER = "not_leader"
    SHUTTING_DOWN = "shutting_down"
    OVERRUN = "overrun"
    """The previous pass was still running when the next one was due (max_instances=1)."""
    MISFIRE = "misfire"
    """The scheduler woke up too late (beyond the misfire grace time) and skipped the run."""


DRIFT_DIRECTIONS = ("over", "under")
CORRECTION_OUTCOMES = tuple(outcome.value for outcome in CorrectionOutcome)
"""The ``outcome`` label of ``reconciler_corrections_total``: the audit records' words."""
KEY_DIRECTIONS = tuple(direction.value for direction in KeyDirection)
"""The ``direction`` label of ``reconciler_key_repairs_total``: missing (+1), extra (-1)."""
CHECK_MODES = ("ledger", "classic", "scan")
"""How an event was checked: its ledger, a recount, or found in sync by the scan alone."""
SWEEPS = tuple(mode.value for mode in SweepMode if mode is not SweepMode.AUTO)
"""The ``sweep`` label of ``reconciler_sweeps_total``: what a pass took (``auto`` chooses one)."""
COUNTER_STATES = ("invalid", "unreadable_version")
LEASE_TRANSITIONS = ("acquired", "lost", "released")
LAG_GATE_RESULTS = ("open", "paused", "error")

_READS = ("Query", "GetItem", "Scan", "BatchGetItem", "DescribeTable", "GetMetricStatistics")
AWS_OPERATIONS = frozenset(
    (*_READS, "UpdateItem", "PutItem", "DeleteItem", "BatchWriteItem", "TransactWriteItems")
)
AWS_ERROR_CODES = frozenset(
    {
        "ThrottlingException",
        "ProvisionedThroughputExceededException",
        "RequestLimitExceeded",
        "ConditionalCheckFailedException",
        "ResourceNotFoundException",
        "AccessDeniedException",
        "UnrecognizedClientException",
        "ExpiredTokenException",
        "ValidationException",
        "InternalServerError",
        "ServiceUnavailable",
        "EndpointUnreachable",
        "Throttled",
    }
)
OTHER = "other"

RUN_DURATION_BUCKETS = (0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600, 1200, 1800, 3600)


def bounded_operation(operation: str) -> str:
    return operation if operation in AWS_OPERATIONS else OTHER


def bounded_code(code: str) -> str:
    return code if code in AWS_ERROR_CODES else OTHER


def bounded_error(key: AwsErrorKey) -> AwsErrorKey:
    """The labels of an AWS error: anything outside the known sets becomes ``other``, so no
    request detail (or personal data in a message) can become a label value."""
    return AwsErrorKey(bounded_operation(key.operation), bounded_code(key.code))
