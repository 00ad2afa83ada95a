"""The lag gate's decision: pause corrections while the handler is behind, or unknown."""

from __future__ import annotations

import pytest

from reconciler.kernel.errors import AwsError, EndpointUnreachableError, ThrottledError
from reconciler.serve.lag_gate import LagGate, decide
from tests.fakes.serve import FakeIteratorAgeReader


def test_iterator_age_above_the_settle_window_pauses_corrections():
    decision = decide(iterator_age_ms=130_000, settle_seconds=120)
    assert decision.paused
    assert decision.reason == "handler_behind"
    assert decision.iterator_age_seconds == 130.0


def test_iterator_age_equal_to_the_settle_window_is_still_open():
    assert not decide(iterator_age_ms=120_000, settle_seconds=120).paused


def test_no_datapoints_means_an_idle_handler_and_corrections_go_ahead():
    decision = decide(iterator_age_ms=None, settle_seconds=120)
    assert not decision.paused
    assert decision.reason == "no_datapoints"


@pytest.mark.parametrize(
    ("error", "code"),
    [
        (AwsError("GetMetricStatistics", "AccessDeniedException", "no"), "AccessDeniedException"),
        (ThrottledError("slow"), "ThrottledError"),
        (EndpointUnreachableError("GetMetricStatistics: unreachable"), "EndpointUnreachableError"),
    ],
)
def test_an_unreadable_cloudwatch_fails_safe_by_pausing(error, code):
    gate = LagGate(FakeIteratorAgeReader(error=error), "updateAttendeeCounter", 120)
    decision = gate.check()
    assert decision.paused
    assert decision.reason == "cloudwatch_error"
    assert decision.error == code


def test_the_gate_reads_the_configured_function_over_five_minutes():
    reader = FakeIteratorAgeReader(age_ms=5_000)
    decision = LagGate(reader, "updateAttendeeCounter", 60).check()
    assert reader.calls == [("updateAttendeeCounter", 300.0)]
    assert not decision.paused
