"""The local mapping in front of the real handler, wired as Lambda runs it.

``reconciler pump`` and the demo both feed a table's stream through the handler that
:func:`reconciler.handler.entry.build_handler` builds, invoked through the entry point's own
``(event, context)`` adapter; this is that composition, so neither repeats it.
"""

from __future__ import annotations

from reconciler.devtools.pump.faults import FaultPlan
from reconciler.devtools.pump.mapping import PumpConfig, StreamPump
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
) -> StreamPump:
    """A pump over ``stream_arn`` whose every invocation runs the deployed handler's code."""
    return StreamPump(
        clients.streams(),
        stream_arn,
        lambda_function(build_handler(settings, clients, metrics)),
        region=clients.region,
        config=config,
        faults=faults,
    )
