"""The composition root of a pass, shared by ``run``, ``serve`` and the demo.

The pass (:mod:`reconciler.reconcile.reconciler`) knows only ports; this module is the one place
that picks their implementations: the DynamoDB adapters behind the read-rate limiter, the
audit sinks, and the CloudWatch summary publisher.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from reconciler.kernel.deployment_spec import BATCHING_WINDOW_SECONDS
from reconciler.kernel.errors import ConfigError, ReconcilerError
from reconciler.kernel.logs import get_logger
from reconciler.reconcile.audit import (
    AuditSink,
    FanOutAuditSink,
    FanOutKeyAuditSink,
    JsonLinesAuditSink,
    KeyAuditSink,
    LogAuditSink,
)
from reconciler.reconcile.dynamo import DynamoReconcileTable
from reconciler.reconcile.export_location import S3Location
from reconciler.reconcile.export_request import DynamoExportService, requested
from reconciler.reconcile.export_store import S3ExportStore, is_local_export
from reconciler.reconcile.export_sweep import ExportSweep, SnapshotSource
from reconciler.reconcile.ledger_dynamo import DynamoLedger
from reconciler.reconcile.pass_control import utc_now
from reconciler.reconcile.publisher import SummaryPublisher
from reconciler.reconcile.ratelimit import ReadRateLimiter
from reconciler.reconcile.reconciler import (
    Clock,
    PassOptions,
    Reconciler,
    Sleep,
    SummaryCallback,
    WallClock,
)
from reconciler.reconcile.rotation_dynamo import DynamoRotation
from reconciler.reconcile.scan_dynamo import DynamoTableScan
from reconciler.reconcile.settings import RunSettings
from reconciler.reconcile.summary import PassSummary

if TYPE_CHECKING:
    from reconciler.kernel.aws import Clients


def build_reconciler(
    settings: RunSettings,
    clients: Clients,
    *,
    clock: Clock = time.monotonic,
    sleep: Sleep = time.sleep,
    wall: WallClock = utc_now,
    on_summary: Sequence[SummaryCallback] = (),
    extra_audit_sinks: Sequence[AuditSink] = (),
    extra_key_audit_sinks: Sequence[KeyAuditSink] = (),
) -> Reconciler:
    """The composition root shared by ``run`` and ``serve``: wires the DynamoDB adapter, the
    read-rate limiter and the audit sinks around one :class:`Reconciler`.

    Call :meth:`Reconciler.close` when done (closes the audit file, unhooks the client).
    """
    export = _export_sweep(settings, clients, clock, sleep, wall)
    limiter = ReadRateLimiter(settings.max_reads_per_second, clock=clock, sleep=sleep)
    tables = settings.table
    table = DynamoReconcileTable(
        clients.dynamodb(),
        tables.table_name,
        tables.model,
        limiter,
        optional_table=tables.state_table,
    )
    scan = DynamoTableScan(clients.dynamodb(), tables.table_name, tables.model, table)
    ledger = DynamoLedger(
        clients.dynamodb(), tables.table_name, tables.model, tables.state_table, limiter
    )
    if settings.settle_seconds <= BATCHING_WINDOW_SECONDS and not settings.dry_run:
        # Allowed (tests and the demo drive the handler themselves), but on a live table a
        # record still in flight could be mistaken for drift: say so loudly.
        get_logger(__name__).warning(
            "settle_window_too_short",
            settle_seconds=settings.settle_seconds,
            batching_window_seconds=BATCHING_WINDOW_SECONDS,
        )
    callbacks = list(on_summary)
    if settings.cloudwatch_namespace is not None:
        publisher = SummaryPublisher(clients.cloudwatch(), settings.cloudwatch_namespace)
        callbacks.append(_publish_safely(publisher))
    log_sink = LogAuditSink()
    sinks: list[AuditSink] = [log_sink, *extra_audit_sinks]
    key_sinks: list[KeyAuditSink] = [log_sink, *extra_key_audit_sinks]
    closers: list[Callable[[], None]] = [table.close]
    file_sink: JsonLinesAuditSink | None = None
    if settings.audit_file is not None:
        file_sink = JsonLinesAuditSink(settings.audit_file)
        sinks.append(file_sink)
        key_sinks.append(file_sink)
        closers.append(file_sink.close)
    return Reconciler(
        events=table,
        table=table,
        audit=FanOutAuditSink(*sinks),
        options=PassOptions.from_settings(settings),
        clock=clock,
        sleep=sleep,
        wall=wall,
        on_summary=callbacks,
        on_close=closers,
        ledger=ledger,
        key_audit=FanOutKeyAuditSink(*key_sinks),
        intents=file_sink,
        rotation=DynamoRotation(clients.dynamodb(), tables.state_table, limiter),
        scan=scan,
        export=export,
    )


def _export_sweep(
    settings: RunSettings, clients: Clients, clock: Clock, sleep: Sleep, wall: WallClock
) -> ExportSweep | None:
    """The location kind first (a local export, a location of several, S3, a new export per
    pass), then the engine that reads it. DuckDB is an optional dependency (the ``export``
    extra): imported only when asked for. So is PySpark (``spark``), needed only once a Spark
    job must run here (see :mod:`reconciler.reconcile.export_spark`)."""
    where = settings.from_export
    if where is None:
        return None
    try:
        from reconciler.reconcile import export_fetch  # noqa: PLC0415
        from reconciler.reconcile.export_duckdb import LocalDuckDbExport  # noqa: PLC0415
    except ModuleNotFoundError as exc:
        if exc.name != "duckdb":
            raise
        raise ConfigError(
            "--from-export", "needs DuckDB, which is not installed: pip install '.[export]'"
        ) from exc
    model, event = settings.table.model, settings.event
    source: SnapshotSource
    watch = None
    if settings.engine == "spark":
        source = _spark_source(settings, where, clients)
    elif isinstance(where, Path):
        if is_local_export(where):
            source = LocalDuckDbExport(where, model, event)
        else:
            source = export_fetch.NewestLocalExport(where, model, event)
    elif isinstance(where, S3Location):
        store = S3ExportStore(clients.s3(), where.bucket)
        source = export_fetch.StoredExport(
            store, export_fetch.newest_in(store, where.prefix), model, event=event
        )
    else:
        service = DynamoExportService(clients.dynamodb(), settings.table.table_name)
        locate = requested(service, where, clock=clock, sleep=sleep)
        store = S3ExportStore(clients.s3(), where.bucket)
        stored = export_fetch.StoredExport(store, locate, model, event=event)
        source, watch = stored, stored.watch
    return ExportSweep(source, clock=clock, wall=wall, watch=watch)


def _spark_source(settings: RunSettings, where: object, clients: Clients) -> SnapshotSource:
    from reconciler.reconcile import export_fetch  # noqa: PLC0415
    from reconciler.reconcile.export_spark import LocalSparkExport  # noqa: PLC0415
    from reconciler.reconcile.export_spark_s3 import StoredSparkSnapshot  # noqa: PLC0415

    model, event = settings.table.model, settings.event
    if isinstance(where, S3Location):
        # The job ran on Glue or EMR Serverless and left its snapshot beside the export.
        store = S3ExportStore(clients.s3(), where.bucket)
        locate = export_fetch.newest_in(store, where.prefix)
        return StoredSparkSnapshot(store, locate, model, event=event)
    if not isinstance(where, Path) or not is_local_export(where):
        raise ConfigError(
            "--engine", "spark reads one export's own directory (the one with its manifests)"
        )
    return LocalSparkExport(where, model, master=settings.spark_master, event=event)


def _publish_safely(publisher: SummaryPublisher) -> SummaryCallback:
    """A CloudWatch outage must not turn a good pass into a failed one: the pass's own result
    stands, the lost datapoint is logged (and the reconciler alarms treat missing data)."""
    log = get_logger(__name__)

    def publish(summary: PassSummary) -> None:
        try:
            publisher.publish(summary)
        except ReconcilerError as exc:
            log.warning(
                "summary_publish_failed",
                namespace=publisher.namespace,
                error=type(exc).__name__,
                detail=str(exc),
            )

    return publish
