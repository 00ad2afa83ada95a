"""The lag gate: no corrections while the stream handler is behind.

The reconciler's race-safety rests on the settle window: a record in flight at the first look
is applied by the handler before the recheck. That only holds while the handler keeps up. When
its ``IteratorAge`` (how old the records it is processing are) exceeds the settle window,
records can stay in flight across both looks and be mistaken for drift, so the pass still
measures and reports but writes nothing. When CloudWatch cannot be read we cannot tell, and we
fail safe: paused.
"""

from __future__ import annotations

import datetime as dt
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

from reconciler.kernel.aws import aws_call
from reconciler.kernel.errors import AwsError, ReconcilerError

if TYPE_CHECKING:
    from mypy_boto3_cloudwatch import CloudWatchClient

LAG_WINDOW_SECONDS = 300.0
"""IteratorAge Maximum over the last 5 minutes: long enough to span several handler batches."""


@dataclass(frozen=True, slots=True)
class LagDecision:
    paused: bool
    reason: str
    """open, handler_behind, no_datapoints or cloudwatch_error."""
    settle_seconds: float
    iterator_age_seconds: float | None = None
    error: str | None = None
    """Bounded error code when CloudWatch could not be read."""


def decide(iterator_age_ms: float | None, settle_seconds: float) -> LagDecision:
    """Pure: paused when the handler's oldest record is older than the settle window.

    No datapoints means the handler has not been invoked in the window: nothing is in flight.
    """
    if iterator_age_ms is None:
        return LagDecision(False, "no_datapoints", settle_seconds)
    age = iterator_age_ms / 1000.0
    if age > settle_seconds:
        return LagDecision(True, "handler_behind", settle_seconds, age)
    return LagDecision(False, "open", settle_seconds, age)


def failed_safe(settle_seconds: float, code: str) -> LagDecision:
    return LagDecision(True, "cloudwatch_error", settle_seconds, None, code)


class IteratorAgeReader(Protocol):
    def max_iterator_age_ms(self, function_name: str, window_seconds: float) -> float | None:
        """Largest ``Maximum`` IteratorAge in the window, in ms; None without datapoints."""
        ...


class CloudWatchIteratorAge:
    """Reads ``AWS/Lambda IteratorAge`` for one function with ``GetMetricStatistics``."""

    def __init__(
        self, cloudwatch: CloudWatchClient, clock: Callable[[], float] = time.time
    ) -> None:
        self._cloudwatch = cloudwatch
        self._clock = clock

    def max_iterator_age_ms(self, function_name: str, window_seconds: float) -> float | None:
        end = dt.datetime.fromtimestamp(self._clock(), tz=dt.UTC)
        start = end - dt.timedelta(seconds=window_seconds)
        with aws_call("GetMetricStatistics"):
            response = self._cloudwatch.get_metric_statistics(
                Namespace="AWS/Lambda",
                MetricName="IteratorAge",
                Dimensions=[{"Name": "FunctionName", "Value": function_name}],
                StartTime=start,
                EndTime=end,
                Period=60,
                Statistics=["Maximum"],
            )
        values = [p["Maximum"] for p in response.get("Datapoints", []) if "Maximum" in p]
        return max(values) if values else None


class LagGate:
    """Decides before each pass whether corrections may be written."""

    def __init__(
        self,
        reader: IteratorAgeReader,
        function_name: str,
        settle_seconds: float,
        *,
        window_seconds: float = LAG_WINDOW_SECONDS,
    ) -> None:
        self._reader = reader
        self._function = function_name
        self._settle = settle_seconds
        self._window = window_seconds

    def check(self) -> LagDecision:
        try:
            age = self._reader.max_iterator_age_ms(self._function, self._window)
        except AwsError as exc:
            return failed_safe(self._settle, exc.code)
        except ReconcilerError as exc:
            return failed_safe(self._settle, type(exc).__name__)
        except OSError as exc:
            return failed_safe(self._settle, type(exc).__name__)
        return decide(age, self._settle)
