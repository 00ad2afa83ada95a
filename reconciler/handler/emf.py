"""CloudWatch Embedded Metric Format: metrics as one structured log line per invocation.

Lambda ships stdout to CloudWatch Logs, which extracts the metrics from the ``_aws`` block;
no API call, no extra latency, no dependency. Lambda's own ``Errors`` metric never sees a
partial batch failure or a skipped record; these lines do. The only dimension is the function
name, so the metric count stays fixed whatever the traffic.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping
from typing import Any, TextIO

from reconciler.kernel.deployment_spec import HANDLER_METRIC_DIMENSION

MAX_METRICS_PER_DIRECTIVE = 100
"""CloudWatch rejects a directive with more metrics than this."""


def render(
    namespace: str,
    function_name: str,
    values: Mapping[str, int | float],
    timestamp_ms: int,
    unit: str = "Count",
) -> dict[str, Any]:
    """One EMF document; every metric shares the ``FunctionName`` dimension."""
    if not namespace:
        raise ValueError("EMF namespace must not be empty")
    if len(values) > MAX_METRICS_PER_DIRECTIVE:
        raise ValueError(f"EMF allows at most {MAX_METRICS_PER_DIRECTIVE} metrics per line")
    reserved = {"_aws", HANDLER_METRIC_DIMENSION}
    clash = reserved.intersection(values)
    if clash:
        raise ValueError(f"metric names clash with reserved keys: {sorted(clash)}")
    document: dict[str, Any] = {
        "_aws": {
            "Timestamp": timestamp_ms,
            "CloudWatchMetrics": [
                {
                    "Namespace": namespace,
                    "Dimensions": [[HANDLER_METRIC_DIMENSION]],
                    "Metrics": [{"Name": name, "Unit": unit} for name in values],
                }
            ],
        },
        HANDLER_METRIC_DIMENSION: function_name,
    }
    document.update(values)
    return document


class EmfWriter:
    """Writes one EMF JSON line per call to an injected stream (stdout in Lambda)."""

    def __init__(
        self,
        stream: TextIO,
        namespace: str,
        function_name: str,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._stream = stream
        self._namespace = namespace
        self._function_name = function_name
        self._clock = clock

    def write(self, values: Mapping[str, int | float]) -> None:
        document = render(self._namespace, self._function_name, values, int(self._clock() * 1000))
        self._stream.write(json.dumps(document, separators=(",", ":")) + "\n")
        self._stream.flush()


class MetricTotals:
    """Sums every metric written through it, optionally passing each line on.

    The local pump and the demo report the handler's totals instead of (or besides)
    printing one EMF line per invocation.
    """

    def __init__(self, forward: EmfWriter | None = None) -> None:
        self._forward = forward
        self.totals: dict[str, float] = {}
        self.lines = 0

    def write(self, values: Mapping[str, int | float]) -> None:
        self.lines += 1
        for name, value in values.items():
            self.totals[name] = self.totals.get(name, 0) + value
        if self._forward is not None:
            self._forward.write(values)

    def get(self, name: str) -> int:
        return int(self.totals.get(name, 0))
