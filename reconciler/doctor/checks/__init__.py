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

PREREQUISITES: dict[str, tuple[str, ...]] = {
    "stream-enabled": ("table-exists",),
    "mapping-exists": ("handler-exists", "stream-enabled"),
    "mapping-enabled": ("mapping-exists",),
    "mapping-stream": ("mapping-exists",),
    "mapping-settings": ("mapping-exists",),
    "handler-role-permissions": ("handler-exists",),
    "handler-log-group": ("handler-exists",),
    "on-failure-queue": ("mapping-exists",),
    "on-failure-send": ("on-failure-queue",),
    "replay-queue": ("on-failure-queue",),
    "replay-permissions": ("on-failure-queue",),
}
"""A check whose prerequisite did not pass says SKIP, not FAIL: one missing table is one
failure with one fix, not ten failures of one cause. Prerequisites come earlier in the list."""


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
    return _skip_dependents(results)


def _skip_dependents(results: list[CheckResult]) -> list[CheckResult]:
    status: dict[str, str] = {}
    kept: list[CheckResult] = []
    for result in results:
        blocked = [
            name
            for name in PREREQUISITES.get(result.name, ())
            if status.get(name, "pass") in ("fail", "skip")
        ]
        outcome = (
            CheckResult(result.name, "skip", f"skipped: {blocked[0]} did not pass")
            if blocked
            else result
        )
        status[outcome.name] = outcome.status
        kept.append(outcome)
    return kept
