"""The only place that creates boto3 clients: the composition roots call these.

boto3 resolves region, credentials, profiles and ``AWS_ENDPOINT_URL`` itself; we only add
retry behaviour suited to a long-running worker and short timeouts so an unreachable endpoint
is reported quickly instead of hanging a pass.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import (
    BotoCoreError,
    ClientError,
    HTTPClientError,
    ParamValidationError,
)
from botocore.exceptions import ConnectionError as BotoConnectionError

from reconciler.kernel.errors import (
    AwsError,
    ConfigError,
    ConflictError,
    EndpointUnreachableError,
    TableNotFoundError,
    ThrottledError,
)

if TYPE_CHECKING:
    from mypy_boto3_cloudformation import CloudFormationClient
    from mypy_boto3_cloudwatch import CloudWatchClient
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodbstreams import DynamoDBStreamsClient
    from mypy_boto3_iam import IAMClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_logs import CloudWatchLogsClient
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient
    from mypy_boto3_sts import STSClient


def client_config(max_attempts: int = 8, connect_timeout: float = 5.0) -> Config:
    """Adaptive retries back off on throttling and smooth our request rate client-side."""
    return Config(
        retries={"max_attempts": max_attempts, "mode": "adaptive"},
        connect_timeout=connect_timeout,
        read_timeout=20,
        max_pool_connections=50,
    )


def session_from_env(env: Mapping[str, str]) -> boto3.session.Session:
    """boto3 resolves the region itself (``AWS_DEFAULT_REGION``, the profile); the SDK-wide
    ``AWS_REGION`` is honoured too, and no region at all is a setting error, not a traceback
    from the first client created."""
    session = boto3.session.Session()
    if session.region_name is None and env.get("AWS_REGION"):
        session = boto3.session.Session(region_name=env["AWS_REGION"])
    if session.region_name is None:
        raise ConfigError("AWS_REGION", "no AWS region configured (or AWS_DEFAULT_REGION, profile)")
    return session


def local_clients(endpoint: str, region: str, *, max_attempts: int = 3) -> Clients:
    """Clients with dummy credentials pinned to a local endpoint (moto, dynalite): the
    environment, and any real AWS profile in it, is neither read for credentials nor changed."""
    session = boto3.session.Session(
        aws_access_key_id="local",
        aws_secret_access_key="local",  # noqa: S106 - a dummy key for a local server
        region_name=region,
    )
    return Clients(session=session, config=client_config(max_attempts), endpoint_url=endpoint)


class Clients:
    """Lazily creates and caches clients from one boto3 session."""

    def __init__(
        self,
        session: boto3.session.Session | None = None,
        config: Config | None = None,
        endpoint_url: str | None = None,
    ) -> None:
        self._session = session or boto3.session.Session()
        self._config = config or client_config()
        self._endpoint_url = endpoint_url
        self._cache: dict[str, Any] = {}

    def _client(self, service: str) -> Any:
        if service not in self._cache:
            kwargs: dict[str, Any] = {"config": self._config}
            if self._endpoint_url:
                kwargs["endpoint_url"] = self._endpoint_url
            self._cache[service] = self._session.client(service, **kwargs)  # type: ignore[call-overload]
        return self._cache[service]

    @property
    def region(self) -> str:
        return self._session.region_name or "us-east-1"

    def dynamodb(self) -> DynamoDBClient:
        return self._client("dynamodb")  # type: ignore[no-any-return]

    def streams(self) -> DynamoDBStreamsClient:
        return self._client("dynamodbstreams")  # type: ignore[no-any-return]

    def cloudwatch(self) -> CloudWatchClient:
        return self._client("cloudwatch")  # type: ignore[no-any-return]

    def sns(self) -> SNSClient:
        return self._client("sns")  # type: ignore[no-any-return]

    def sqs(self) -> SQSClient:
        return self._client("sqs")  # type: ignore[no-any-return]

    def lambda_(self) -> LambdaClient:
        return self._client("lambda")  # type: ignore[no-any-return]

    def iam(self) -> IAMClient:
        return self._client("iam")  # type: ignore[no-any-return]

    def cloudformation(self) -> CloudFormationClient:
        return self._client("cloudformation")  # type: ignore[no-any-return]

    def logs(self) -> CloudWatchLogsClient:
        return self._client("logs")  # type: ignore[no-any-return]

    def sts(self) -> STSClient:
        return self._client("sts")  # type: ignore[no-any-return]

    def s3(self) -> Any:
        """Untyped: the S3 stubs are not a dependency; the one adapter using it
        (:mod:`reconciler.reconcile.export_store`) calls three operations."""
        return self._client("s3")


_THROTTLE_CODES = frozenset(
    {
        "ProvisionedThroughputExceededException",
        "ThrottlingException",
        "RequestLimitExceeded",
        "Throttling",
        "TooManyRequestsException",
    }
)


def translate_error(operation: str, exc: Exception, table: str | None = None) -> Exception:
    """Map a botocore exception onto our hierarchy; returns the exception to raise.

    ``ConditionalCheckFailedException`` becomes :class:`ConflictError` (with the old item when
    the service returned one), throttling :class:`ThrottledError`, connection failures
    :class:`EndpointUnreachableError`, any other botocore error :class:`AwsError` with a bounded
    code. Anything that is not a botocore error is returned unchanged.
    """
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        code = str(error.get("Code", "Unknown"))
        message = str(error.get("Message", ""))
        if code == "ConditionalCheckFailedException":
            item: Any = exc.response.get("Item")
            return ConflictError(f"{operation}: condition failed", dict(item) if item else None)
        if code in _THROTTLE_CODES:
            return ThrottledError(f"{operation} throttled after retries: {code}")
        if code == "TransactionCanceledException":
            return _cancelled(operation, exc.response, message)
        if code == "ResourceNotFoundException" and table:
            return TableNotFoundError(operation, table)
        return AwsError(operation, code, message)
    if isinstance(exc, BotoConnectionError | HTTPClientError):
        # Refused, timed out, or closed mid-request after the client's own retries.
        return EndpointUnreachableError(f"{operation}: AWS endpoint unreachable: {exc}")
    if isinstance(exc, ParamValidationError):
        # Its text quotes the offending values, which can be attendee data: never pass it on.
        return AwsError(operation, "ParamValidationError", "request parameters failed validation")
    if isinstance(exc, BotoCoreError):
        # No credentials, a proxy or TLS failure, ...: still ours to report per operation,
        # so callers that isolate failures see one error type.
        return AwsError(operation, type(exc).__name__, str(exc))
    return exc


_CONFLICT_REASONS = frozenset({"ConditionalCheckFailed", "TransactionConflict"})
_THROTTLE_REASONS = frozenset({"ThrottlingError", "ProvisionedThroughputExceeded"})


def _cancelled(operation: str, response: Any, message: str) -> Exception:
    """A cancelled transaction: a lost race (some item's condition failed, or another
    transaction held an item) is a conflict the caller re-reads and retries; throttling is
    throttling; anything else (a validation problem) is an error."""
    reasons = tuple(
        (reason.get("Code") if reason.get("Code") not in (None, "None") else None)
        for reason in response.get("CancellationReasons", [])
        if isinstance(reason, dict)
    )
    codes = {code for code in reasons if code}
    if codes & _THROTTLE_REASONS:
        return ThrottledError(f"{operation} throttled after retries: {sorted(codes)}")
    if codes and codes <= _CONFLICT_REASONS:
        return ConflictError(f"{operation}: transaction cancelled", reasons=reasons)
    return AwsError(operation, "TransactionCanceledException", message)


@contextmanager
def aws_call(operation: str, table: str | None = None) -> Iterator[None]:
    """Run AWS calls with every botocore failure raised as ours, named after ``operation``.

    The one translation of botocore errors: adapters wrap their calls in it, so no component
    above them ever sees a botocore type, and every failure reaches a pass, a batch or a command
    as a :class:`ReconcilerError` it already handles. ``table``, when the call is on one,
    names it in a not-found error.
    """
    try:
        yield
    except (ClientError, BotoCoreError) as exc:
        raise translate_error(operation, exc, table) from exc
