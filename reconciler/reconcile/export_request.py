"""``--from-export new``: each pass asks DynamoDB for a fresh export and waits for it.

The request carries a client token derived from the pass's run id, so a request retried after
a lost response joins the export already started instead of starting a second one (DynamoDB
keeps the token for eight hours). The wait polls DescribeExport, reports the status through the
pass's progress, and gives up at ``--export-timeout``; it is stop-aware, so ``serve``'s
shutdown interrupts it. An export that outlives the wait keeps running in AWS (and is billed):
the error says so and names it, so it can still be read once done.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from reconciler.kernel.aws import aws_call
from reconciler.kernel.errors import AwsError
from reconciler.kernel.logs import get_logger
from reconciler.reconcile.export_location import NewExport, directory_of, export_id_of
from reconciler.reconcile.export_manifest import (
    FULL_EXPORT,
    SUPPORTED_FORMAT,
    ExportError,
    ExportFormatError,
)
from reconciler.reconcile.pass_control import PassControl, wait_until
from reconciler.reconcile.pass_state import PassState
from reconciler.reconcile.progress import NO_PROGRESS

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

IN_PROGRESS, COMPLETED, FAILED = "IN_PROGRESS", "COMPLETED", "FAILED"
_PITR_UNAVAILABLE = "PointInTimeRecoveryUnavailableException"


class ExportFailedError(ExportError):
    """DynamoDB reports the export FAILED; the message carries its FailureCode and message."""


class ExportTimeoutError(ExportError):
    """The export did not complete within ``--export-timeout`` (it keeps running in AWS)."""


class PointInTimeRecoveryDisabledError(ExportError):
    """The table has no point-in-time recovery, which every export needs."""


@dataclass(frozen=True, slots=True)
class ExportDescription:
    """What DescribeExport says of one export."""

    arn: str
    status: str
    bucket: str | None = None
    manifest_key: str | None = None
    """``ExportManifest``: the key of the export's ``manifest-summary.json``."""
    failure_code: str | None = None
    failure_message: str | None = None

    @property
    def export_id(self) -> str:
        return export_id_of(self.arn)


class ExportService(Protocol):
    """DynamoDB's export API for one table."""

    def request(self, client_token: str, spec: NewExport) -> ExportDescription: ...

    def describe(self, arn: str) -> ExportDescription: ...


def _description(raw: Any) -> ExportDescription:
    return ExportDescription(
        arn=str(raw["ExportArn"]),
        status=str(raw.get("ExportStatus", IN_PROGRESS)),
        bucket=raw.get("S3Bucket"),
        manifest_key=raw.get("ExportManifest") or None,
        failure_code=raw.get("FailureCode"),
        failure_message=raw.get("FailureMessage"),
    )


class DynamoExportService:
    """The export API through an injected DynamoDB client."""

    def __init__(self, client: DynamoDBClient, table_name: str) -> None:
        self._client = client
        self._table = table_name

    def request(self, client_token: str, spec: NewExport) -> ExportDescription:
        with aws_call("DescribeTable", self._table):
            table_arn = self._client.describe_table(TableName=self._table)["Table"]["TableArn"]
        parameters: dict[str, Any] = {
            "TableArn": table_arn,
            "S3Bucket": spec.bucket,
            "ExportFormat": SUPPORTED_FORMAT,
            "ExportType": FULL_EXPORT,
            "ClientToken": client_token,
        }
        if spec.prefix:
            parameters["S3Prefix"] = spec.prefix
        if spec.bucket_owner:
            parameters["S3BucketOwner"] = spec.bucket_owner
        try:
            with aws_call("ExportTableToPointInTime", self._table):
                response = self._client.export_table_to_point_in_time(**parameters)
        except AwsError as exc:
            if exc.code == _PITR_UNAVAILABLE:
                raise PointInTimeRecoveryDisabledError(
                    f"table {self._table!r} has point-in-time recovery disabled, which an export "
                    "needs: aws dynamodb update-continuous-backups --table-name "
                    f"{self._table} --point-in-time-recovery-specification "
                    "PointInTimeRecoveryEnabled=true"
                ) from exc
            raise
        return _description(response["ExportDescription"])

    def describe(self, arn: str) -> ExportDescription:
        with aws_call("DescribeExport", self._table):
            response = self._client.describe_export(ExportArn=arn)
        return _description(response["ExportDescription"])


def client_token(run_id: str) -> str:
    """The same for every attempt of one pass's request, different for every pass."""
    return f"reconciler-{run_id}"[:64]


def await_export(
    service: ExportService,
    spec: NewExport,
    state: PassState | None,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
    run_id: str = "unscheduled",
) -> ExportDescription:
    """Request an export for this pass and wait until it is COMPLETED."""
    log = get_logger(__name__)
    control = state.control if state is not None else PassControl()
    progress = state.progress if state is not None else NO_PROGRESS
    started = clock()
    export = service.request(client_token(state.run_id if state is not None else run_id), spec)
    log.info("export_requested", export_id=export.export_id, bucket=spec.bucket, prefix=spec.prefix)

    def tick(_remaining: float) -> None:
        progress.export_waiting(export.export_id, export.status, clock() - started)

    tick(0.0)
    polls = 0
    while export.status == IN_PROGRESS:
        deadline = started + spec.timeout_seconds
        if clock() >= deadline:
            log.error("export_failed", export_id=export.export_id, reason="timeout")
            raise ExportTimeoutError(
                f"export {export.arn} did not complete within {spec.timeout_seconds:g} s "
                "(--export-timeout); it keeps running in AWS: once COMPLETED, read it with "
                f"--from-export s3://{spec.bucket}/{spec.prefix or ''}"
            )
        # 1, 2, 4, 8 s, then every poll_seconds: a small table's export is soon done, a large
        # one's takes minutes, and DescribeExport is cheap either way.
        interval = min(spec.poll_seconds, 2.0**polls)
        polls += 1
        wait_until(min(clock() + interval, deadline), control, clock, sleep, tick)
        export = service.describe(export.arn)
        tick(0.0)
    if export.status != COMPLETED:
        log.error(
            "export_failed",
            export_id=export.export_id,
            status=export.status,
            failure_code=export.failure_code,
        )
        raise ExportFailedError(
            f"export {export.arn} {export.status}: "
            f"{export.failure_code or 'no FailureCode'}: {export.failure_message or ''}".rstrip()
        )
    if export.manifest_key is None:
        raise ExportFormatError(
            f"export {export.arn} completed without an ExportManifest: it is not in AWS's "
            "export layout (moto writes one JSON array), so it cannot be read"
        )
    log.info(
        "export_completed", export_id=export.export_id, elapsed_seconds=round(clock() - started, 1)
    )
    return export


def requested(
    service: ExportService,
    spec: NewExport,
    *,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> Callable[[PassState | None], str]:
    """A ``Locate`` (see :mod:`reconciler.reconcile.export_fetch`) that requests an export for
    the pass and returns its directory in ``spec.bucket``."""

    def locate(state: PassState | None) -> str:
        export = await_export(service, spec, state, clock=clock, sleep=sleep)
        return directory_of(export.manifest_key or "")

    return locate


__all__ = [
    "DynamoExportService",
    "ExportDescription",
    "ExportFailedError",
    "ExportService",
    "ExportTimeoutError",
    "PointInTimeRecoveryDisabledError",
    "await_export",
    "client_token",
    "requested",
]
