"""The local mapping in front of the real handler, wired as Lambda runs it.

``reconciler pump`` and the demo both feed a table's stream through the handler that
:func:`reconciler.handler.entry.build_handler` builds, invoked through the entry point's own
``(event, context)`` adapter; this is that composition, so neither repeats it.
"""

from __future__ import annotations

from collections.abc import Callable

from reconciler.devtools.pump.faults import FaultPlan
from reconciler.devtools.pump.mapping import PumpConfig, StreamPump
from reconciler.devtools.pump.on_failure import SqsOnFailure
from reconciler.handler.batch import MetricsSink
from reconciler.handler.entry import HandlerSettings, build_handler, lambda_function
from reconciler.handler.lambda_shape import Handler
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
    around: Callable[[Handler], Handler] | None = None,
) -> StreamPump:
    """A pump over ``stream_arn`` whose every invocation runs the deployed handler's code, and
    whose dropped batches go to ``on_failure_queue_url`` as Lambda's on-failure messages.

    ``around`` wraps the function as Lambda would invoke it: the demo uses it to watch
    deliveries and to make one batch fail on every attempt."""
    on_failure = None
    if on_failure_queue_url:
        function_arn = (
            f"arn:aws:lambda:{clients.region}:000000000000:function:{settings.function_name}"
        )
        on_failure = SqsOnFailure(
            clients.sqs(), on_failure_queue_url, stream_arn=stream_arn, function_arn=function_arn
        )
    function: Handler = lambda_function(build_handler(settings, clients, metrics))
    return StreamPump(
        clients.streams(),
        stream_arn,
        function if around is None else around(function),
        region=clients.region,
        config=config,
        faults=faults,
        on_failure=on_failure,
    )
