"""Pure evaluation of gathered facts: one :class:`CheckResult` per check, with the fix.

The checks follow the deployment guide: its three validation steps, and its troubleshooting
entries ("Streams not enabled", "Stream ARN not found", "Permission denied", "Stream handler
not triggering"), each named in the fix so an operator can find the guide's section. They are
grouped by what they look at: ``resources`` (table, stream, export, state table, function),
``mapping`` (the event source mapping), ``access`` (the handler's role: stream and ledger
permissions, and its log group), ``chain`` (the replay chain: on-failure queue, the handler's
send, the reconciler's replay of the same queue and its permissions) and ``alarm_states``;
``result`` holds what they share.
"""

from __future__ import annotations

from reconciler.doctor.checks.access import handler_log_group, handler_role_permissions
from reconciler.doctor.checks.alarm_states import alarm_checks
from reconciler.doctor.checks.chain import chain_checks
from reconciler.doctor.checks.mapping import (
    mapping_enabled,
    mapping_exists,
    mapping_settings,
    mapping_stream,
    stream_mapping,
)
from reconciler.doctor.checks.resources import (
    handler_exists,
    state_table,
    stream_enabled,
    stream_export,
    table_exists,
)
from reconciler.doctor.checks.result import CheckResult, Expectations, Status
from reconciler.doctor.facts import Facts

__all__ = ["CheckResult", "Expectations", "Status", "evaluate", "failed"]


def failed(results: list[CheckResult]) -> bool:
    return any(r.status == "fail" for r in results)


def evaluate(facts: Facts, expected: Expectations) -> list[CheckResult]:
    mapping = stream_mapping(facts, expected)
    results = [
        table_exists(facts, expected),
        stream_enabled(facts, expected),
        stream_export(facts, expected),
        state_table(facts, expected),
        handler_exists(facts, expected),
        mapping_exists(facts, expected, mapping),
        mapping_enabled(facts, expected, mapping),
        mapping_stream(facts, expected, mapping),
        mapping_settings(facts, expected, mapping),
        handler_role_permissions(facts, expected),
        handler_log_group(facts, expected),
        *chain_checks(facts, mapping),
    ]
    if facts.alarms is not None:
        results.extend(alarm_checks(facts))
    return results
