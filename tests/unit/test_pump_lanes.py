"""The pump's concurrent lanes: which lane a record takes, and the settings that ask for them."""

from __future__ import annotations

import threading
import time

import pytest

from reconciler.devtools.pump.lanes import Baton, LanePlan, Record, run_lanes
from reconciler.devtools.pump.mapping import PumpConfig


def record(pk: str, sk: str, number: int) -> Record:
    keys = {"pk": {"S": pk}, "sk": {"S": sk}}
    return {"dynamodb": {"Keys": keys, "SequenceNumber": str(number)}}


STREAM = [
    record(pk, f"{who}@example.com", n)
    for n, (pk, who) in enumerate(
        [(f"ev{n % 3}#ATTENDEE", f"a{n % 7}") for n in range(60)], start=100
    )
]


def test_one_lane_without_a_factor_or_a_split_keeps_the_stream_as_it_is() -> None:
    plan = LanePlan()
    assert not plan.concurrent
    assert plan.lanes(STREAM, "pk") == [STREAM]


def test_each_item_keeps_one_lane_and_its_stream_order() -> None:
    lanes = LanePlan(parallelization_factor=4).lanes(STREAM, "pk")
    assert 1 < len(lanes) <= 4
    owner: dict[str, int] = {}
    for index, lane in enumerate(lanes):
        numbers = [int(r["dynamodb"]["SequenceNumber"]) for r in lane]
        assert numbers == sorted(numbers)
        for r in lane:
            key = str(r["dynamodb"]["Keys"])
            assert owner.setdefault(key, index) == index
    assert sorted(r["dynamodb"]["SequenceNumber"] for lane in lanes for r in lane) == sorted(
        r["dynamodb"]["SequenceNumber"] for r in STREAM
    )


def test_a_split_hot_key_takes_two_lanes_of_its_own() -> None:
    plan = LanePlan(split_hot_key="ev0#ATTENDEE")
    assert plan.concurrent
    hot = {
        plan.lane_of(r, "pk") for r in STREAM if r["dynamodb"]["Keys"]["pk"]["S"] == "ev0#ATTENDEE"
    }
    rest = {
        plan.lane_of(r, "pk") for r in STREAM if r["dynamodb"]["Keys"]["pk"]["S"] != "ev0#ATTENDEE"
    }
    assert hot == {1, 2}
    assert rest == {0}


def test_lanes_overlap_only_while_their_handlers_run() -> None:
    baton = Baton()
    running = {"now": 0, "most": 0, "bookkeeping": 0}
    guard = threading.Lock()

    def deliver(batch: list[Record]) -> None:
        running["bookkeeping"] += 1  # under the baton: never two at once
        with baton.released():
            with guard:
                running["now"] += 1
                running["most"] = max(running["most"], running["now"])
            time.sleep(0.01)
            with guard:
                running["now"] -= 1

    lanes = LanePlan(parallelization_factor=3).lanes(STREAM, "pk")
    run_lanes(lanes, 5, deliver, baton)
    assert running["most"] > 1
    assert running["bookkeeping"] == sum(-(-len(lane) // 5) for lane in lanes)


@pytest.mark.parametrize("factor", [0, 11])
def test_a_parallelization_factor_outside_lambdas_range_is_refused(factor: int) -> None:
    with pytest.raises(ValueError, match="parallelization_factor"):
        PumpConfig(parallelization_factor=factor)


def test_the_cli_refuses_a_parallelization_factor_naming_it(
    capsys: pytest.CaptureFixture[str],
) -> None:
    from reconciler.cli import main

    assert main(["pump", "--parallelization-factor", "11"], env={"TABLE_NAME": "t"}) == 2
    assert "--parallelization-factor" in capsys.readouterr().err
