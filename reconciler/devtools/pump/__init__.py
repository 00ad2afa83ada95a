"""``reconciler pump``'s machinery: a local event source mapping for a table's stream.

``faults`` plans duplicated, dropped and delayed batches; ``lambda_shape`` is Lambda's side of
the contract (record and event shapes, the context, the partial batch response); ``mapping`` is
the polling loop (:class:`StreamPump`); ``wiring`` puts the loop in front of the real handler.
"""

from reconciler.devtools.pump.faults import FaultPlan, Faults
from reconciler.devtools.pump.lambda_shape import Handler, lambda_record, retry_index
from reconciler.devtools.pump.mapping import (
    STARTING_POSITIONS,
    PumpConfig,
    PumpStats,
    StreamPump,
    StreamUnavailableError,
    stream_arn_for,
)
from reconciler.devtools.pump.wiring import handler_pump

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
