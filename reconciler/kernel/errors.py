"""One error hierarchy, so callers can catch everything we raise with one clause.

Adapters translate botocore's ``ClientError`` into these types; the core never sees boto3.
"""

from __future__ import annotations


class ReconcilerError(Exception):
    """Base of every error this project raises on purpose."""


class ConfigError(ReconcilerError):
    """A setting is missing or invalid; the message names the setting."""

    def __init__(self, setting: str, problem: str) -> None:
        super().__init__(f"{setting}: {problem}")
        self.setting = setting
        self.problem = problem


class ConflictError(ReconcilerError):
    """A conditional write lost a race (DynamoDB ``ConditionalCheckFailedException``).

    ``current`` carries the item as it was when the condition failed, when the service returned it.
    """

    def __init__(
        self,
        message: str,
        current: dict[str, object] | None = None,
        reasons: tuple[str | None, ...] = (),
    ) -> None:
        super().__init__(message)
        self.current = current
        self.reasons = reasons
        """For a cancelled transaction: each item's cancellation code, in request order
        (``None`` for an item that was not the cause)."""


class ThrottledError(ReconcilerError):
    """DynamoDB or CloudWatch kept throttling after boto3's own retries."""


class AwsError(ReconcilerError):
    """Any other AWS failure; ``operation`` and ``code`` are bounded strings for metrics."""

    def __init__(self, operation: str, code: str, message: str) -> None:
        super().__init__(f"{operation} failed with {code}: {message}")
        self.operation = operation
        self.code = code


class TableNotFoundError(AwsError):
    """DynamoDB's ResourceNotFoundException names no table; this one does, and says where to
    look, because the usual cause is a setting (the name, the region), not an outage."""

    def __init__(self, operation: str, table: str) -> None:
        ReconcilerError.__init__(
            self,
            f"table {table} not found in this account and region ({operation}); check "
            "--table-name / TABLE_NAME, --state-table and AWS_REGION",
        )
        self.operation = operation
        self.code = "ResourceNotFoundException"
        self.table = table


class EndpointUnreachableError(ReconcilerError):
    """The AWS endpoint could not be reached at all (DNS, refused connection, timeout)."""


class LeaseLostError(ReconcilerError):
    """This replica no longer holds the leader lease and must not write."""
