"""The local mapping in front of the real handler, wired as Lambda runs it.

``reconciler pump`` and the demo both feed a table's stream through the handler that
:func:`reconciler.handler.entry.build_handler` builds, invoked through the entry point's own
``(event, context)`` adapter; this is that composition, so neither repeats it.
"""

from __future__ import annotations

from reconciler.devtools.pump.faults import FaultPlan
from reconciler.devtools.pump.mapping import PumpConfig, StreamPump
from reconciler.devtools.pump.on_failure import SqsOnFailure
from reconciler.handler.batch import MetricsSink
from reconciler.handler.entry import HandlerSettings, build_handler, lambda_function
from reconciler.kernel.aws import Clients


def handler_pump(
    settings: HandlerSettings,
    clients: Clients,
    stream_arn: str,
    metrics: MetricsSink,
    *,
    config: PumpConfig | None = None,
    faults: FaultPlan | None = None,
    on_failure_queue_url: str | None = None,
) -> StreamPump:
    """A pump over ``stream_arn`` whose every invocation runs the deployed handler's code, and
    whose dropped batches go to ``on_failure_queue_url`` as Lambda's on-failure messages."""
    on_failure = None
    if on_failure_queue_url:
        function_arn = (
            f"arn:aws:lambda:{clients.region}:000000000000:function:{settings.function_name}"
        )
        on_failure = SqsOnFailure(
            clients.sqs(), on_failure_queue_url, stream_arn=stream_arn, function_arn=function_arn
        )
    return StreamPump(
        clients.streams(),
        stream_arn,
        lambda_function(build_handler(settings, clients, metrics)),
        region=clients.region,
        config=config,
        faults=faults,
        on_failure=on_failure,
    )
