"""The stream handler's round trips: latency per batch, and write/read units per record.

    python -m benchmarks.handler                    # 5 ms per request, 30 batches per scenario
    python -m benchmarks.handler --delay-ms 2 --batches 10
    python -m benchmarks.run --no-large             # also runs this, after the pass benchmark

The handler needs ``TransactWriteItems``, which dynalite lacks, so it runs against moto's server
in a child process, behind a WSGI middleware that sleeps ``--delay-ms`` before every request: the
stand-in for an in-region round trip. The handler is built exactly as the Lambda entry point
builds it, and each batch is handed to it as Lambda would (fresh INSERTs, one at a time).

Scenarios: 10 records of 1 event, 10 records over 10 events, 100 records of 1 event (a batch of
100), each against **the floor**: the one request per event a correct handler cannot do without
(the counter's ``ADD``, an ``UpdateItem``), at the same delay, so what the ledger adds shows as
round trips. Units per record come from the requests the handler sends, priced as DynamoDB bills
them (moto reports no consumed capacity for transactions), see :func:`units_of`.
"""

from __future__ import annotations

import argparse
import io
import logging
import math
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import count
from pathlib import Path
from typing import Any

import boto3
from moto.moto_server.werkzeug_app import (
    DomainDispatcherApplication,
    MotoRequestHandler,
    create_backend_app,
)
from werkzeug.serving import make_server

from reconciler.devtools.local_table import create_state_table, create_table
from reconciler.handler.entry import HandlerSettings, build_handler, emf_sink
from reconciler.kernel.aws import Clients, client_config
from reconciler.kernel.ledger import default_state_table
from reconciler.kernel.logs import configure_logging
from reconciler.kernel.model import EventKey, TableModel
from reconciler.kernel.settings import TableSettings
from tests.fakes.handler import Sequencer, insert

MODEL = TableModel()
DEFAULT_DELAY_MS = 5.0
DEFAULT_BATCHES = 30
REPO = Path(__file__).resolve().parent.parent


# -- a moto server whose every request takes a round trip ------------------------------------


def serve(delay_ms: float) -> None:  # pragma: no cover - runs in the child process
    """moto's server with ``delay_ms`` before each request; prints its port, serves until its
    stdin closes (the parent is gone)."""
    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    app = DomainDispatcherApplication(create_backend_app)

    def delayed(environ: dict[str, Any], start_response: Callable[..., Any]) -> Any:
        time.sleep(delay_ms / 1000)
        return app(environ, start_response)

    server = make_server("127.0.0.1", 0, delayed, True, request_handler=MotoRequestHandler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    print(server.server_address[1], flush=True)
    sys.stdin.read()


@contextmanager
def delayed_moto(delay_ms: float) -> Iterator[str]:
    """moto's server in a child process (its work never competes with the handler's for the
    GIL), ``delay_ms`` added before each request; yields the endpoint."""
    command = [sys.executable, "-m", "benchmarks.handler", "--serve", "--delay-ms", f"{delay_ms}"]
    with subprocess.Popen(
        command, cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True
    ) as process:
        try:
            assert process.stdout is not None
            port = int(process.stdout.readline())
            yield f"http://127.0.0.1:{port}"
        finally:
            process.terminate()
            process.wait(10)


def local_clients(endpoint: str) -> Clients:
    session = boto3.session.Session(
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - a local moto server accepts anything
    )
    return Clients(session=session, config=client_config(max_attempts=3), endpoint_url=endpoint)


# -- what DynamoDB bills ---------------------------------------------------------------------


def value_size(value: Mapping[str, Any]) -> int:
    """Bytes of one attribute value as DynamoDB sizes it (numbers: about a byte per two
    significant digits, plus one)."""
    (kind, raw), *_ = value.items()
    if kind == "S":
        return len(str(raw).encode("utf-8"))
    if kind == "N":
        digits = str(raw).lstrip("-").replace(".", "").strip("0") or "0"
        return math.ceil(len(digits) / 2) + 1
    if kind == "B":
        return len(raw)
    if kind in ("BOOL", "NULL"):
        return 1
    if kind == "M":
        return 3 + sum(len(k.encode("utf-8")) + value_size(v) for k, v in raw.items())
    if kind == "L":
        return 3 + sum(1 + value_size(v) for v in raw)
    return sum(value_size({kind[0]: element}) for element in raw)  # SS, NS, BS


def item_size(item: Mapping[str, Any]) -> int:
    return sum(len(name.encode("utf-8")) + value_size(value) for name, value in item.items())


@dataclass
class Tally:
    """Requests and units of what a client sent, priced from item sizes as DynamoDB bills them.

    * ``TransactWriteItems``: 2 write units per item action per started KB (a ``Put`` sized by
      its item, the counter's ``Update`` by the event item as it is after the batch).
    * ``UpdateItem`` (the floor): 1 write unit per started KB of the event item.
    * ``BatchGetItem`` (strongly consistent): 1 read unit per key per started 4 KB; a key with
      no item costs 1 all the same.
    * ``Query`` (strongly consistent): 1 read unit per started 4 KB of what it returned, at least
      1 per page (the lookup returns at most two event keys: always 1).
    """

    requests: dict[str, int] = field(default_factory=dict)
    write: float = 0.0
    read: float = 0.0
    updated: list[tuple[int, str, dict[str, Any]]] = field(default_factory=list)
    """(units per KB, table, key) of every counter update: sized by :meth:`size_updates`."""

    def sent(self, model: Any, params: Mapping[str, Any], **_: Any) -> None:
        name = model.name
        self.requests[name] = self.requests.get(name, 0) + 1
        if name == "TransactWriteItems":
            for action in params["TransactItems"]:
                ((kind, body),) = action.items()
                if kind == "Put":
                    self.write += 2 * math.ceil(item_size(body["Item"]) / 1024)
                else:
                    self.updated.append((2, body["TableName"], dict(body["Key"])))
        elif name == "UpdateItem":
            self.updated.append((1, params["TableName"], dict(params["Key"])))
        elif name == "BatchGetItem":
            self.read += sum(len(request["Keys"]) for request in params["RequestItems"].values())

    def received(self, parsed: Mapping[str, Any], model: Any, **_: Any) -> None:
        if model.name == "BatchGetItem":
            found = [item for rows in parsed.get("Responses", {}).values() for item in rows]
            self.read += sum(math.ceil(item_size(item) / 4096) - 1 for item in found)
        elif model.name == "Query":
            self.read += max(1, math.ceil(sum(map(item_size, parsed.get("Items", []))) / 4096))

    def size_updates(self, ddb: Any) -> None:
        """Price the counter updates by the event items' size (read after the batch)."""
        for per_kb, table, key in self.updated:
            size = item_size(ddb.get_item(TableName=table, Key=key)["Item"])
            self.write += per_kb * math.ceil(size / 1024)
        self.updated.clear()


@contextmanager
def tallied(ddb: Any) -> Iterator[Tally]:
    tally = Tally()
    events = ddb.meta.events
    events.register("before-parameter-build.dynamodb", tally.sent)
    events.register("after-call.dynamodb", tally.received)
    try:
        yield tally
    finally:
        events.unregister("before-parameter-build.dynamodb", tally.sent)
        events.unregister("after-call.dynamodb", tally.received)


# -- the scenarios -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Scenario:
    records: int
    events: int

    @property
    def per_event(self) -> int:
        return self.records // self.events

    @property
    def label(self) -> str:
        spread = "1 event" if self.events == 1 else f"{self.events} events"
        return f"{self.records} records, {spread}"


SCENARIOS = (Scenario(10, 1), Scenario(10, 10), Scenario(100, 1))
"""Between them: 10, 1 and 100 records per event per batch."""


@dataclass
class Row:
    scenario: Scenario
    handler_ms: list[float]
    floor_ms: list[float]
    requests: float
    """The handler's requests per batch."""
    floor_requests: float
    write_units_per_record: float
    read_units_per_record: float
    floor_write_units_per_record: float

    def p(self, samples: list[float], q: int) -> float:
        if len(samples) < 2:
            return samples[0]
        return statistics.quantiles(samples, n=100, method="inclusive")[q - 1]


class HandlerBench:
    """One registration table with its state table, events, and the handler as Lambda runs it."""

    def __init__(self, clients: Clients) -> None:
        self.clients = clients
        self.ddb = clients.dynamodb()
        self.table = f"bench-{uuid.uuid4().hex[:8]}"
        create_table(self.ddb, self.table)
        create_state_table(self.ddb, default_state_table(self.table))
        self.events = [
            EventKey(("FAD", "EVENT")[i % 2], f"bench-{i:03d}#2024-10-27#conference")
            for i in range(max(s.events for s in SCENARIOS))
        ]
        for key in self.events:
            self.ddb.put_item(
                TableName=self.table,
                Item={
                    "pk": {"S": key.partition},
                    "sk": {"S": key.sort_key},
                    "attendeeCount": {"N": "0"},
                    "counterVersion": {"N": "0"},
                    "title": {"S": f"Benchmark event {key.slug}"},
                },
            )
        settings = HandlerSettings(TableSettings(self.table, MODEL), metrics_namespace="Bench")
        self.handler = build_handler(settings, clients, emf_sink(settings, io.StringIO()))
        self._sequence = Sequencer()
        self._serial = count()

    def records(self, scenario: Scenario) -> list[dict[str, Any]]:
        """Fresh INSERTs (new attendees): every record changes an item's state."""
        return [
            insert(key.slug, f"person-{next(self._serial)}@example.invalid", self._sequence())
            for key in self.events[: scenario.events]
            for _ in range(scenario.per_event)
        ]

    def handle(self, scenario: Scenario) -> tuple[float, Tally]:
        records = self.records(scenario)
        with tallied(self.ddb) as tally:
            start = time.perf_counter()
            response = self.handler.handle({"Records": records})
            elapsed = time.perf_counter() - start
        if response != {"batchItemFailures": []}:
            raise RuntimeError(f"the handler failed a batch: {response}")
        tally.size_updates(self.ddb)
        self.forget_entries()
        return elapsed, tally

    def forget_entries(self) -> None:
        """Delete the ledger entries written (outside the timing): moto copies every table for
        each transaction, so a growing state table would slow each batch more than the last;
        the next batch's attendees are new anyway."""
        state = default_state_table(self.table)
        pages = self.ddb.get_paginator("scan").paginate(
            TableName=state, ProjectionExpression="pk, sk"
        )
        keys = [item for page in pages for item in page["Items"]]
        for start in range(0, len(keys), 25):
            requests: dict[str, Any] = {
                state: [{"DeleteRequest": {"Key": key}} for key in keys[start : start + 25]]
            }
            while requests:
                requests = (
                    self.ddb.batch_write_item(RequestItems=requests).get("UnprocessedItems") or {}
                )

    def close(self) -> None:
        for table in (self.table, default_state_table(self.table)):
            self.ddb.delete_table(TableName=table)

    def floor(self, scenario: Scenario) -> tuple[float, Tally]:
        """The counter's ``ADD`` alone, one ``UpdateItem`` per event, one after the other as the
        handler goes through a batch's events."""
        with tallied(self.ddb) as tally:
            start = time.perf_counter()
            for key in self.events[: scenario.events]:
                self.ddb.update_item(
                    TableName=self.table,
                    Key={"pk": {"S": key.partition}, "sk": {"S": key.sort_key}},
                    UpdateExpression="ADD attendeeCount :d",
                    ExpressionAttributeValues={":d": {"N": str(scenario.per_event)}},
                )
            elapsed = time.perf_counter() - start
        tally.size_updates(self.ddb)
        return elapsed, tally


def measure(clients: Clients, batches: int = DEFAULT_BATCHES) -> list[Row]:
    """Per scenario, a warm-up batch each, then ``batches`` handler and floor batches in turn."""
    configure_logging("json", "warning", stream=io.StringIO())
    rows = []
    for scenario in SCENARIOS:
        bench = HandlerBench(clients)  # fresh tables: each scenario starts at the same size
        bench.handle(scenario)
        bench.floor(scenario)
        handled: list[tuple[float, Tally]] = []
        floors: list[tuple[float, Tally]] = []
        for _ in range(batches):
            handled.append(bench.handle(scenario))
            floors.append(bench.floor(scenario))
        bench.close()
        records = scenario.records * batches
        rows.append(
            Row(
                scenario=scenario,
                handler_ms=[seconds * 1000 for seconds, _ in handled],
                floor_ms=[seconds * 1000 for seconds, _ in floors],
                requests=sum(sum(t.requests.values()) for _, t in handled) / batches,
                floor_requests=sum(sum(t.requests.values()) for _, t in floors) / batches,
                write_units_per_record=sum(t.write for _, t in handled) / records,
                read_units_per_record=sum(t.read for _, t in handled) / records,
                floor_write_units_per_record=sum(t.write for _, t in floors) / records,
            )
        )
    return rows


def table_markdown(rows: list[Row], delay_ms: float, batches: int) -> str:
    lines = [
        "| batch | records per event | requests per batch | p50 ms | p95 ms "
        f"| requests x {delay_ms:g} ms | write units per record | read units per record |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.scenario.label} | {row.scenario.per_event} "
            f"| {row.requests:g} ({row.floor_requests:g}) "
            f"| {row.p(row.handler_ms, 50):.1f} ({row.p(row.floor_ms, 50):.1f}) "
            f"| {row.p(row.handler_ms, 95):.1f} ({row.p(row.floor_ms, 95):.1f}) "
            f"| {row.requests * delay_ms:g} ({row.floor_requests * delay_ms:g}) "
            f"| {row.write_units_per_record:.2f} ({row.floor_write_units_per_record:.2f}) "
            f"| {row.read_units_per_record:.2f} (0) |"
        )
    lines.append("")
    lines.append(
        "The handler, and in brackets the floor (one `UpdateItem` `ADD` per event). "
        f"{delay_ms:g} ms added before every request to a moto server in its own process; "
        f"{batches} batches per scenario after a warm-up batch, handler and floor in turn."
    )
    return "\n".join(lines)


def run_section(delay_ms: float = DEFAULT_DELAY_MS, batches: int = DEFAULT_BATCHES) -> str:
    """The whole benchmark: a delayed moto server, the measurements, the table."""
    with delayed_moto(delay_ms) as endpoint:
        rows = measure(local_clients(endpoint), batches)
    return table_markdown(rows, delay_ms, batches)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.handler", description=__doc__)
    parser.add_argument("--delay-ms", type=float, default=DEFAULT_DELAY_MS)
    parser.add_argument("--batches", type=int, default=DEFAULT_BATCHES)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.serve:
        serve(args.delay_ms)
        return 0
    print(run_section(args.delay_ms, args.batches))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
