"""``reconciler pump``'s machinery: a local event source mapping for a table's stream.

``faults`` plans duplicated, dropped and delayed batches; ``mapping`` is the polling loop
(:class:`StreamPump`); ``on_failure`` sends each dropped batch's on-failure message to SQS;
``wiring`` puts the loop in front of the real handler. Lambda's side of the contract (record and
event shapes, the partial batch response) is ``reconciler.handler.lambda_shape``, which
``reconciler replay`` shares.
"""

from reconciler.devtools.pump.faults import FaultPlan, Faults
from reconciler.devtools.pump.mapping import (
    STARTING_POSITIONS,
    PumpConfig,
    PumpStats,
    StreamPump,
    StreamUnavailableError,
    stream_arn_for,
)
from reconciler.devtools.pump.wiring import handler_pump
from reconciler.handler.lambda_shape import Handler, lambda_record, retry_index

__all__ = [
    "STARTING_POSITIONS",
    "FaultPlan",
    "Faults",
    "Handler",
    "PumpConfig",
    "PumpStats",
    "StreamPump",
    "StreamUnavailableError",
    "handler_pump",
    "lambda_record",
    "retry_index",
    "stream_arn_for",
]
