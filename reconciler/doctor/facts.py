"""What the doctor learned about the deployment: plain data, no boto3 types."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class TableFacts:
    name: str
    exists: bool
    stream_enabled: bool = False
    stream_view_type: str | None = None
    stream_arn: str | None = None
    error: str | None = None
    """Set when the facts could not be read (e.g. AccessDenied); the others are then unknown."""


@dataclass(frozen=True, slots=True)
class StateTableFacts:
    """The state table (the counter's ledger) and its TTL, which expires the ledger's tombstones."""

    name: str
    exists: bool
    named_by: str = ""
    """Where the name came from (a flag, an export, the default), for the operator to check."""
    arn: str | None = None
    ttl_status: str | None = None
    """As DescribeTimeToLive says it: ENABLED, ENABLING, DISABLED or DISABLING."""
    ttl_attribute: str | None = None
    error: str | None = None
    """Set when the table could not be described; the others are then unknown."""
    ttl_error: str | None = None
    """Set when the table exists but its TTL could not be read."""


@dataclass(frozen=True, slots=True)
class ExportFacts:
    name: str
    value: str | None
    """``None``: no export by that name in this account and region."""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class FunctionFacts:
    name: str
    exists: bool
    role_arn: str | None = None
    timeout_seconds: int | None = None
    error: str | None = None
    arn: str | None = None
    """The function's ARN: its partition, region and account locate the log group."""


@dataclass(frozen=True, slots=True)
class MappingFacts:
    uuid: str
    event_source_arn: str
    state: str
    batch_size: int | None = None
    batching_window_seconds: int | None = None
    maximum_retry_attempts: int | None = None
    bisect_on_error: bool | None = None
    function_response_types: tuple[str, ...] = ()
    maximum_record_age_seconds: int | None = None
    on_failure_destination: str | None = None


@dataclass(frozen=True, slots=True)
class Statement:
    """One IAM policy statement, normalised: single strings become one-element tuples."""

    effect: str
    actions: tuple[str, ...] = ()
    not_actions: tuple[str, ...] = ()
    resources: tuple[str, ...] = ()
    not_resources: tuple[str, ...] = ()
    conditional: bool = False


@dataclass(frozen=True, slots=True)
class RoleFacts:
    name: str
    statements: tuple[Statement, ...] = ()
    error: str | None = None


@dataclass(frozen=True, slots=True)
class QueueFacts:
    """The SQS queue the mapping names as its on-failure destination."""

    arn: str
    name: str
    exists: bool
    url: str | None = None
    kms_key: str | None = None
    """``KmsMasterKeyId``; ``None`` for SQS-managed encryption (SSE-SQS) or none."""
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ReplayFacts:
    """The reconciler's side of the chain: which queue it replays, with which role."""

    stack: str
    stack_found: bool = False
    queue_url: str | None = None
    named_by: str = ""
    """Where ``queue_url`` came from: the operator's setting or the stack's output."""
    role: RoleFacts | None = None
    """The task role from the stack's output; ``None`` when the stack does not say."""
    error: str | None = None
    """Set when the stack could not be read."""


@dataclass(frozen=True, slots=True)
class AlarmFacts:
    expected: tuple[str, ...]
    states: Mapping[str, str] = field(default_factory=dict)
    """State per expected alarm that exists; missing names are absent."""
    runbooks: Mapping[str, str] = field(default_factory=dict)
    """Runbook URL per expected alarm name, as the alarm's description links it."""
    error: str | None = None
    silent: tuple[str, ...] = ()
    """Expected alarms that exist but notify nobody: actions disabled, or no alarm action."""


@dataclass(frozen=True, slots=True)
class Facts:
    table: TableFacts
    export: ExportFacts
    function: FunctionFacts
    state_table: StateTableFacts
    mappings: tuple[MappingFacts, ...] = ()
    mappings_error: str | None = None
    role: RoleFacts | None = None
    log_group: str = ""
    log_group_exists: bool | None = None
    """``None``: could not be checked."""
    alarms: AlarmFacts | None = None
    """``None``: alarm checks were skipped."""
    on_failure_queues: tuple[QueueFacts, ...] = ()
    """One per SQS queue the mappings name as their on-failure destination."""
    replay: ReplayFacts | None = None
    """``None``: the replay chain was not looked at."""
