"""What a check says, what a correct deployment looks like, and the fixes several checks give."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from reconciler.kernel import deployment_spec as deployed
from reconciler.kernel.ledger import LedgerModel

Status = Literal["pass", "warn", "fail", "skip"]


@dataclass(frozen=True, slots=True)
class CheckResult:
    name: str
    status: Status
    detail: str
    fix: str = ""

    def to_json(self) -> dict[str, Any]:
        return {"name": self.name, "status": self.status, "detail": self.detail, "fix": self.fix}


@dataclass(frozen=True, slots=True)
class Expectations:
    """What a correct deployment looks like; defaults are ``reconciler.kernel.deployment_spec``."""

    table_name: str
    function_name: str = deployed.HANDLER_FUNCTION_NAME
    export_name: str = deployed.TABLE_STREAM_ARN_EXPORT
    on_failure_queue: str | None = None
    """When set, the mapping's on-failure destination must be this queue."""
    batch_size: int = deployed.BATCH_SIZE
    batching_window_seconds: int = deployed.BATCHING_WINDOW_SECONDS
    maximum_retry_attempts: int = deployed.MAX_RETRY_ATTEMPTS
    bisect_on_error: bool = deployed.BISECT_BATCH_ON_ERROR
    function_response_types: tuple[str, ...] = deployed.FUNCTION_RESPONSE_TYPES
    maximum_record_age_seconds: int = deployed.MAX_RECORD_AGE_SECONDS
    stream_view_type: str = deployed.STREAM_VIEW_TYPE
    stream_actions: tuple[str, ...] = deployed.STREAM_READ_ACTIONS
    state_table_actions: tuple[str, ...] = deployed.HANDLER_STATE_TABLE_ACTIONS
    ttl_attribute: str = LedgerModel().expires_attr
    """The state table's TTL attribute: absent entries (tombstones) expire through it."""


DEPLOY_STATEFUL = "deploy StatefulStack first: `cdk deploy StatefulStack`"
DEPLOY_STATELESS = "deploy the handler: `cdk deploy StatelessStack` (after StatefulStack)"


def unreadable(name: str, detail: str, permissions: str, status: Status = "fail") -> CheckResult:
    """The doctor could not read what the check needs: the fix is a permission for the
    doctor's own credentials, not a change to the deployment."""
    return CheckResult(
        name, status, detail, f"allow {permissions} to the credentials running doctor"
    )
