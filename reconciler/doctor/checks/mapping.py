"""The event source mapping from the table's stream to the handler: that it exists, is enabled,
reads the current stream and has the deployed settings (the guide's "Stream handler not
triggering")."""

from __future__ import annotations

from reconciler.doctor.checks.result import (
    DEPLOY_STATEFUL,
    DEPLOY_STATELESS,
    CheckResult,
    Expectations,
    unreadable,
)
from reconciler.doctor.facts import Facts, MappingFacts

ACTIVE_TRANSITIONS = frozenset({"Creating", "Enabling", "Updating"})
NOT_TRIGGERING = "guide 'Stream handler not triggering'"


def _no_mapping(name: str) -> CheckResult:
    """A check of the mapping's properties when there is no mapping: ``mapping-exists`` says
    why; this one fails too, so no summary reads as if the mapping were fine."""
    return CheckResult(name, "fail", "no mapping to inspect", DEPLOY_STATELESS)


def stream_mapping(facts: Facts, expected: Expectations) -> MappingFacts | None:
    """The mapping on this table's stream, preferring one on the current stream."""
    marker = f":table/{expected.table_name}/stream/"
    candidates = [m for m in facts.mappings if marker in m.event_source_arn]
    current = facts.table.stream_arn
    for mapping in candidates:
        if mapping.event_source_arn == current:
            return mapping
    return candidates[0] if candidates else None


def mapping_exists(
    facts: Facts, expected: Expectations, mapping: MappingFacts | None
) -> CheckResult:
    if facts.mappings_error:
        return unreadable(
            "mapping-exists",
            f"could not list event source mappings: {facts.mappings_error}",
            "lambda:ListEventSourceMappings",
        )
    if mapping is None:
        others = len(facts.mappings)
        detail = f"no event source mapping from table {expected.table_name}'s stream to "
        detail += f"{expected.function_name}"
        if others:
            detail += f" ({others} mapping(s) on other sources)"
        return CheckResult(
            "mapping-exists",
            "fail",
            detail,
            f"{NOT_TRIGGERING}: {DEPLOY_STATELESS}; it creates the mapping from "
            f"Fn.importValue({expected.export_name})",
        )
    return CheckResult("mapping-exists", "pass", f"mapping {mapping.uuid} on the table's stream")


def mapping_enabled(
    facts: Facts, expected: Expectations, mapping: MappingFacts | None
) -> CheckResult:
    if mapping is None:
        return _no_mapping("mapping-enabled")
    if mapping.state == "Enabled":
        return CheckResult("mapping-enabled", "pass", "mapping state is Enabled")
    if mapping.state in ACTIVE_TRANSITIONS:
        return CheckResult(
            "mapping-enabled",
            "warn",
            f"mapping state is {mapping.state}",
            "wait a minute and run doctor again",
        )
    return CheckResult(
        "mapping-enabled",
        "fail",
        f"mapping {mapping.uuid} state is {mapping.state}",
        f"{NOT_TRIGGERING}: `aws lambda update-event-source-mapping --uuid {mapping.uuid} "
        "--enabled`, then check the handler's logs for errors",
    )


def mapping_stream(
    facts: Facts, expected: Expectations, mapping: MappingFacts | None
) -> CheckResult:
    if mapping is None:
        return _no_mapping("mapping-stream")
    current = facts.table.stream_arn
    if not current:
        return CheckResult(
            "mapping-stream", "fail", "the table has no current stream", DEPLOY_STATEFUL
        )
    if mapping.event_source_arn != current:
        return CheckResult(
            "mapping-stream",
            "fail",
            f"mapping reads {mapping.event_source_arn}, the table's stream is {current}",
            f"{NOT_TRIGGERING}: verify the stream ARN; redeploy StatefulStack then "
            "StatelessStack so the mapping follows the current stream",
        )
    return CheckResult("mapping-stream", "pass", "mapping reads the table's current stream")


def mapping_settings(
    facts: Facts, expected: Expectations, mapping: MappingFacts | None
) -> CheckResult:
    if mapping is None:
        return _no_mapping("mapping-settings")
    wrong: list[str] = []

    def compare(label: str, actual: object, wanted: object) -> None:
        if actual != wanted:
            wrong.append(f"{label} {actual} (want {wanted})")

    compare("batch size", mapping.batch_size, expected.batch_size)
    compare("batching window", mapping.batching_window_seconds, expected.batching_window_seconds)
    compare("retries", mapping.maximum_retry_attempts, expected.maximum_retry_attempts)
    compare("bisect on error", mapping.bisect_on_error, expected.bisect_on_error)
    compare(
        "response types",
        sorted(mapping.function_response_types),
        sorted(expected.function_response_types),
    )
    compare(
        "maximum record age",
        mapping.maximum_record_age_seconds,
        expected.maximum_record_age_seconds,
    )
    destination = mapping.on_failure_destination
    if not destination:
        wrong.append("no on-failure destination (dropped batches would vanish)")
    elif expected.on_failure_queue and destination.rsplit(":", 1)[-1] != expected.on_failure_queue:
        wrong.append(
            f"on-failure destination {destination} (want queue {expected.on_failure_queue})"
        )
    if wrong:
        return CheckResult(
            "mapping-settings",
            "fail",
            "; ".join(wrong),
            "redeploy StatelessStack; its settings come from reconciler/kernel/deployment_spec.py",
        )
    return CheckResult(
        "mapping-settings",
        "pass",
        f"batch {expected.batch_size}, window {expected.batching_window_seconds} s, "
        f"{expected.maximum_retry_attempts} retries, partial failures, on-failure destination",
    )
