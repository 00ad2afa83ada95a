"""The hot event's tap and looks, with a stand-in handler: the tap notes what the handler
accepted, makes exactly one batch fail on every attempt once armed, and a look's drift leaves
out what is still on its way."""

from __future__ import annotations

import threading
from typing import Any

import pytest

from reconciler.devtools.demo.hot_world import DeliveryTap, HotLook, SimulatedOutageError


def _record(number: int, *, partition: str = "ticket-rush#ATTENDEE") -> dict[str, Any]:
    return {
        "eventName": "INSERT",
        "dynamodb": {
            "SequenceNumber": str(number),
            "Keys": {"pk": {"S": partition}, "sk": {"S": f"guest-{number}@example.com"}},
        },
    }


def _event(*numbers: int) -> dict[str, Any]:
    return {"Records": [_record(number) for number in numbers]}


class _Handler:
    def __init__(self) -> None:
        self.batches: list[list[str]] = []

    def __call__(self, event: dict[str, Any], _context: Any) -> object:
        self.batches.append([r["dynamodb"]["SequenceNumber"] for r in event["Records"]])
        return {"batchItemFailures": []}


def test_the_tap_notes_every_registration_the_handler_accepted() -> None:
    handler = _Handler()
    tap = DeliveryTap(threading.Lock())
    tapped = tap.around(handler)

    tapped(_event(1, 2), None)
    tapped({"Records": [_record(3, partition="EVENT")]}, None)

    assert tap.applied == {"1", "2"}
    assert handler.batches == [["1", "2"], ["3"]]


def test_an_armed_tap_fails_the_next_batch_on_every_attempt_and_only_that_one() -> None:
    handler = _Handler()
    tap = DeliveryTap(threading.Lock())
    tapped = tap.around(handler)
    tap.fail_next_batch()

    for _attempt in range(3):
        with pytest.raises(SimulatedOutageError):
            tapped(_event(4, 5, 6), None)
    tapped(_event(7), None)

    assert tap.dropped == {"4", "5", "6"}
    assert tap.failed_invocations == 3
    assert tap.applied == {"7"}
    assert handler.batches == [["7"]]


def test_a_partly_accepted_batch_counts_only_the_records_before_the_failure() -> None:
    tap = DeliveryTap(threading.Lock())
    tapped = tap.around(lambda _event, _context: {"batchItemFailures": [{"itemIdentifier": "9"}]})

    tapped(_event(8, 9, 10), None)

    assert tap.applied == {"8"}


def test_a_look_is_exact_when_the_counter_has_everything_but_what_is_on_its_way() -> None:
    assert HotLook(stored=10, true=12, on_their_way=2, dropped=0).exact
    dropped = HotLook(stored=7, true=12, on_their_way=2, dropped=3)
    assert dropped.drift == -3
    assert not dropped.exact
    assert not HotLook(stored=None, true=0, on_their_way=0, dropped=0).exact
