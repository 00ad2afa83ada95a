"""``updateAttendeeCounter``'s Lambda entry point and the handler's one composition root.

:func:`handler` is what the CDK app points Lambda at (``deployment_spec.HANDLER_ENTRY_POINT``).
It reads the Lambda environment once, builds the handler with :func:`build_handler` and keeps
it for warm invocations. The local pump, the demo and the tests build theirs with the same
:func:`build_handler` and call it through the same :func:`lambda_function`, so there is one
wiring of the handler to test, and the code Lambda runs is the code they run.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TextIO

from reconciler.handler.batch import (
    DEFAULT_CONFLICT_RETRIES,
    BatchResponse,
    MetricsSink,
    StreamHandler,
)
from reconciler.handler.emf import EmfWriter
from reconciler.handler.ledger_store import DynamoLedgerStore
from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.aws import Clients, client_config
from reconciler.kernel.event_lookup import DynamoEventLocator
from reconciler.kernel.logs import configure_logging
from reconciler.kernel.settings import (
    LogSettings,
    Source,
    TableSettings,
    parse_log_settings,
    parse_table_settings,
)


@dataclass(frozen=True, slots=True)
class HandlerSettings:
    """Everything but the table defaults to the deployed function, so local callers (the demo,
    the tests) name only what differs."""

    table: TableSettings
    metrics_namespace: str = spec.HANDLER_METRICS_NAMESPACE
    function_name: str = spec.HANDLER_FUNCTION_NAME
    log: LogSettings = field(default_factory=lambda: LogSettings(format="auto", level="info"))
    conflict_retries: int = DEFAULT_CONFLICT_RETRIES


def parse_handler_settings(source: Source, function_name: str | None = None) -> HandlerSettings:
    """Settings of the handler; in Lambda they all come from the function's environment."""
    table = parse_table_settings(source)
    namespace = source.string("--metrics-namespace") or spec.HANDLER_METRICS_NAMESPACE
    return HandlerSettings(
        table=table,
        metrics_namespace=namespace,
        function_name=function_name or spec.HANDLER_FUNCTION_NAME,
        log=parse_log_settings(source),
        conflict_retries=source.integer(
            "--conflict-retries", DEFAULT_CONFLICT_RETRIES, minimum=1, maximum=50
        ),
    )


def emf_sink(settings: HandlerSettings, stream: TextIO) -> EmfWriter:
    return EmfWriter(stream, settings.metrics_namespace, settings.function_name)


def build_handler(
    settings: HandlerSettings, clients: Clients, metrics: MetricsSink
) -> StreamHandler:
    dynamodb = clients.dynamodb()
    table = settings.table
    return StreamHandler(
        DynamoEventLocator(dynamodb, table.table_name, table.model),
        DynamoLedgerStore(dynamodb, table.table_name, table.state_table, table.model),
        metrics,
        table.model,
        conflict_retries=settings.conflict_retries,
    )


LambdaFunction = Callable[[dict[str, Any], Any], BatchResponse]
"""Lambda's calling convention: ``(event, context) -> response``."""


def lambda_function(instance: StreamHandler) -> LambdaFunction:
    """``instance`` as Lambda calls it; the context contributes only the request id (logged),
    and a caller without a context (a test, a tool) gets none."""

    def invoke(event: dict[str, Any], context: Any) -> BatchResponse:
        return instance.handle(event, getattr(context, "aws_request_id", None))

    return invoke


_warm: dict[str, LambdaFunction] = {}
"""The handler built by the first invocation of this Lambda sandbox, reused while warm."""


def handler(event: dict[str, Any], context: Any) -> BatchResponse:
    """Lambda entry point. The one place in the package besides the CLI that reads the
    environment: here it is the Lambda configuration (``TABLE_NAME``, ``RECONCILER_*``)."""
    function = _warm.get("handler")
    if function is None:
        env: Mapping[str, str] = dict(os.environ)
        settings = parse_handler_settings(Source({}, env), env.get("AWS_LAMBDA_FUNCTION_NAME"))
        configure_logging("json", settings.log.level)
        # Few attempts: a throttled event is retried by Lambda from its first record anyway.
        clients = Clients(config=client_config(max_attempts=4, connect_timeout=2))
        function = lambda_function(build_handler(settings, clients, emf_sink(settings, sys.stdout)))
        _warm["handler"] = function
    return function(event, context)
