"""The requests of a pass with no logic around them: what the floors and the naive recount are
made of, so that every scenario pays for the same requests in the same form, and how a scenario
is timed and weighed.

A *look* at an event is what a pass reads to judge it: a consistent ``GetItem`` of the event
item (counter and version) and a paginated consistent ``COUNT`` query of its attendees.
"""

from __future__ import annotations

import resource
import threading
import time
from collections.abc import Callable, Iterator
from typing import Any

from reconciler.kernel.model import TableModel
from reconciler.reconcile.dynamo import EVENT_PAGE_SIZE

MODEL = TableModel()

Key = tuple[str, str]
"""An event item's (partition key, sort key)."""


class BareRequests:
    """One table's requests, counted (requests, read and write units) across threads."""

    def __init__(self, ddb: Any, table: str) -> None:
        self._ddb = ddb
        self._table = table
        self._lock = threading.Lock()
        self.requests = 0
        self.writes = 0
        self.read_units = 0.0
        self.write_units = 0.0

    def _sent(self, response: dict[str, Any], write: bool = False) -> None:
        units = response.get("ConsumedCapacity", {}).get("CapacityUnits", 0.0)
        with self._lock:
            self.requests += 1
            if write:
                self.writes += 1
                self.write_units += units
            else:
                self.read_units += units

    def paged(self, **kwargs: Any) -> Iterator[dict[str, Any]]:
        while True:
            page = self._ddb.query(TableName=self._table, ReturnConsumedCapacity="TOTAL", **kwargs)
            self._sent(page)
            yield page
            if "LastEvaluatedKey" not in page:
                return
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]

    def listing(self) -> Iterator[Key]:
        """Every event item's key, partition by partition, as a pass lists them."""
        for partition in MODEL.event_partitions:
            for page in self.paged(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": partition}},
                ProjectionExpression="pk, sk",
                Limit=EVENT_PAGE_SIZE,
            ):
                for item in page["Items"]:
                    yield item["pk"]["S"], item["sk"]["S"]

    def count(self, key: Key) -> int:
        event_slug = key[1].split("#", 1)[0]
        return sum(
            page["Count"]
            for page in self.paged(
                KeyConditionExpression="pk = :pk",
                ExpressionAttributeValues={":pk": {"S": MODEL.attendee_pk(event_slug)}},
                Select="COUNT",
                ConsistentRead=True,
            )
        )

    def get(self, key: Key) -> dict[str, Any]:
        response = self._ddb.get_item(
            TableName=self._table,
            Key=_key(key),
            ConsistentRead=True,
            ProjectionExpression="pk, attendeeCount, counterVersion",
            ReturnConsumedCapacity="TOTAL",
        )
        self._sent(response)
        item: dict[str, Any] = response.get("Item", {})
        return item

    def look(self, key: Key) -> tuple[dict[str, Any], int]:
        return self.get(key), self.count(key)

    def conditional_write(self, key: Key, seen: dict[str, Any], counted: int) -> None:
        """The reconciler's correction: the counted value, on condition that counter and
        version are still what the look saw."""
        response = self._ddb.update_item(
            TableName=self._table,
            Key=_key(key),
            UpdateExpression="SET #count = :counted ADD #ver :one",
            ConditionExpression="attribute_exists(pk) AND #count = :stored AND #ver = :version",
            ExpressionAttributeNames={"#count": "attendeeCount", "#ver": "counterVersion"},
            ExpressionAttributeValues={
                ":counted": {"N": str(counted)},
                ":one": {"N": "1"},
                ":stored": seen["attendeeCount"],
                ":version": seen["counterVersion"],
            },
            ReturnConsumedCapacity="TOTAL",
        )
        self._sent(response, write=True)

    def blind_write(self, key: Key, counted: int) -> None:
        """A cron job's write: the count, whatever the counter holds by now."""
        response = self._ddb.update_item(
            TableName=self._table,
            Key=_key(key),
            UpdateExpression="SET #count = :counted",
            ExpressionAttributeNames={"#count": "attendeeCount"},
            ExpressionAttributeValues={":counted": {"N": str(counted)}},
            ReturnConsumedCapacity="TOTAL",
        )
        self._sent(response, write=True)


def peak_rss_mb() -> float:
    """Peak RSS of this process's own address space (``VmHWM``).

    Not ``ru_maxrss``: Linux carries the pre-exec high-water mark of the forked parent into
    it, so a child of a parent that just seeded a million items would report the parent's size.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def timed(bare: BareRequests, work: Callable[[], None]) -> dict[str, Any]:
    """Wall time of ``work`` and what it sent through ``bare``; *corrected* is the writes that
    succeeded (a failed conditional write raises and fails the benchmark)."""
    start = time.perf_counter()
    work()
    wall = time.perf_counter() - start
    return {
        "wall": wall,
        "rss_mb": peak_rss_mb(),
        "requests": bare.requests,
        "read_units": bare.read_units,
        "write_units": bare.write_units,
        "corrected": bare.writes,
    }


def _key(key: Key) -> dict[str, Any]:
    return {"pk": {"S": key[0]}, "sk": {"S": key[1]}}
