"""How the adapter reads a raw counter attribute: pure functions, no table needed."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.kernel.model import TableModel
from reconciler.reconcile.core import CounterKind
from reconciler.reconcile.dynamo import parse_attribute, render_attribute, stored_counter

MODEL = TableModel()


def item(count: Any) -> dict[str, Any]:
    return {"attendeeCount": count, "counterVersion": {"N": "3"}}


@pytest.mark.parametrize(
    "raw",
    [
        {"B": b"\x00\xff"},
        {"BS": [b"\x02", b"\x01"]},
        {"M": {"a": {"B": b"\x01"}, "b": {"L": [{"BS": [b"\x03"]}, {"S": "x"}]}}},
        {"S": "ten"},
        {"NULL": True},
    ],
)
def test_any_non_numeric_counter_is_invalid_and_its_raw_value_round_trips(raw: Any) -> None:
    stored = stored_counter(item(raw), MODEL)
    assert stored.kind is CounterKind.INVALID
    assert stored.raw is not None
    assert parse_attribute(stored.raw) == _sorted_sets(raw)


def test_two_reads_of_one_set_in_another_order_are_the_same_observation() -> None:
    # DynamoDB sets are unordered: an unchanged set must not look like a change (in flux).
    for first, second in (
        ({"SS": ["a", "b"]}, {"SS": ["b", "a"]}),
        ({"NS": ["1", "2"]}, {"NS": ["2", "1"]}),
        ({"BS": [b"\x01", b"\x02"]}, {"BS": [b"\x02", b"\x01"]}),
    ):
        assert stored_counter(item(first), MODEL) == stored_counter(item(second), MODEL)


def test_binary_is_rendered_as_base64_like_the_aws_cli() -> None:
    assert render_attribute({"B": b"\x00\x07"}) == '{"B":"AAc="}'


def _sorted_sets(value: Any) -> Any:
    if isinstance(value, dict) and len(value) == 1:
        ((kind, inner),) = value.items()
        if kind in ("SS", "NS", "BS"):
            return {kind: sorted(inner)}
        if kind == "M":
            return {"M": {k: _sorted_sets(v) for k, v in inner.items()}}
        if kind == "L":
            return {"L": [_sorted_sets(v) for v in inner]}
    return value
