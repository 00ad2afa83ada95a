"""Benchmark of one reconciliation pass on dynalite, against the floor of a bare read loop.

    python -m benchmarks.run                 # 2,000 events x 50 attendees, then 1,000,000 items
    python -m benchmarks.run --no-large      # the default scenario only
    python -m benchmarks.run --events 500 --attendees 20 --no-large --repeat 1

For each scenario a fresh dynalite is seeded (events split over both event partitions, each
with ``--attendees`` attendee items; ``--drift-percent`` of the counters are off by one, so the
pass confirms and writes corrections as in production). Then, alternately and ``--repeat``
times, in separate child processes so that peak RSS belongs to one run:

* the pass: ``build_reconciler(...).run_pass()`` with settle 0 and no read limit;
* the floor: the same reads (the event listing, a consistent GetItem and a paginated
  consistent COUNT query per event, and a second look at each drifted event) issued by a bare
  loop at the same concurrency, with no logic at all.

Reported: wall time (best of the repeats), requests per event, consumed read units per
attendee item, peak RSS, and pass / floor as a ratio. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
from botocore.config import Config

from benchmarks.bare import BareRequests, peak_rss_mb, timed
from reconciler.devtools.dynalite import Dynalite
from reconciler.devtools.local_table import create_table
from reconciler.kernel.aws import Clients, client_config
from reconciler.kernel.logs import configure_logging
from reconciler.kernel.model import TableModel
from reconciler.kernel.settings import TableSettings
from reconciler.reconcile.bootstrap import build_reconciler
from reconciler.reconcile.core import BrakePolicy
from reconciler.reconcile.scan_core import SweepMode
from reconciler.reconcile.settings import RunSettings

MODEL = TableModel()
REPO = Path(__file__).resolve().parent.parent


def local_clients(endpoint: str, pool: int = 64) -> Clients:
    session = boto3.session.Session(
        region_name="us-east-1",
        aws_access_key_id="bench",
        aws_secret_access_key="bench",  # noqa: S106 - dynalite on loopback accepts anything
    )
    config = client_config(max_attempts=3).merge(Config(max_pool_connections=pool))
    return Clients(session=session, config=config, endpoint_url=endpoint)


def slug(i: int) -> str:
    return f"bench-{i:06d}"


def event_sort_key(i: int) -> str:
    return f"{slug(i)}#2024-10-27#conference"


def drifted(i: int, percent: float) -> bool:
    return percent > 0 and i % max(1, round(100 / percent)) == 0


# -- seeding ---------------------------------------------------------------------------------


def seed(ddb: Any, table: str, events: int, attendees: int, drift_percent: float) -> None:
    def event_batch(start: int) -> None:
        requests = []
        for i in range(start, min(start + 25, events)):
            count = attendees + (1 if drifted(i, drift_percent) else 0)
            item = {
                "pk": {"S": MODEL.event_partitions[i % len(MODEL.event_partitions)]},
                "sk": {"S": event_sort_key(i)},
                "attendeeCount": {"N": str(count)},
                "counterVersion": {"N": "1"},
                "title": {"S": f"Benchmark event {i}"},
            }
            requests.append({"PutRequest": {"Item": item}})
        write(requests)

    def attendee_batch(job: tuple[int, int]) -> None:
        event, start = job
        requests = []
        for j in range(start, min(start + 25, attendees)):
            email = f"attendee-{j:06d}@example.invalid"
            item = {
                "pk": {"S": f"{slug(event)}#ATTENDEE"},
                "sk": {"S": email},
                "email": {"S": email},
                "firstName": {"S": "Test"},
                "lastName": {"S": f"Person{j}"},
                "phone": {"S": "+00 000 000 0000"},
                "profession": {"S": "Engineer"},
                "eventType": {"S": "conference"},
            }
            requests.append({"PutRequest": {"Item": item}})
        write(requests)

    def write(requests: list[dict[str, Any]]) -> None:
        pending: dict[str, Any] = {table: requests}
        while pending:
            response = ddb.batch_write_item(RequestItems=pending)
            pending = response.get("UnprocessedItems") or {}

    jobs: Iterator[tuple[int, int]] = (
        (e, s) for e in range(events) for s in range(0, attendees, 25)
    )
    with ThreadPoolExecutor(4) as pool:
        list(pool.map(event_batch, range(0, events, 25)))
        for _ in pool.map(attendee_batch, jobs):
            pass


# -- the two measured runs (each in its own child process) ------------------------------------


def measure_pass(
    endpoint: str,
    table: str,
    concurrency: int,
    dry_run: bool = False,
    sweep: SweepMode = SweepMode.QUERY,
) -> dict[str, Any]:
    """One pass as ``run --once`` builds it; the query sweep unless told, so that the pass is
    compared with a floor that sends the same kind of requests."""
    configure_logging("json", "info", stream=open("/dev/null", "w"))  # noqa: SIM115
    clients = local_clients(endpoint)
    settings = RunSettings(
        table=TableSettings(table, MODEL),
        dry_run=dry_run,
        settle_seconds=0.0,
        concurrency=concurrency,
        max_reads_per_second=0.0,
        brake=BrakePolicy(10**9, 1.0, 10**9, force=True),
        sweep=sweep,
    )
    reconciler = build_reconciler(settings, clients)
    start = time.perf_counter()
    summary = reconciler.run_pass()
    wall = time.perf_counter() - start
    reconciler.close()
    return {"wall": wall, "rss_mb": peak_rss_mb(), "summary": summary.to_dict()}


def measure_floor(
    endpoint: str, table: str, concurrency: int, events: int, drift_percent: float
) -> dict[str, Any]:
    bare = BareRequests(local_clients(endpoint).dynamodb(), table)

    def reads() -> None:
        with ThreadPoolExecutor(concurrency) as pool:
            for _ in pool.map(bare.look, bare.listing()):
                pass
            second = [
                (MODEL.event_partitions[i % len(MODEL.event_partitions)], event_sort_key(i))
                for i in range(events)
                if drifted(i, drift_percent)
            ]
            for _ in pool.map(bare.look, second):
                pass

    return timed(bare, reads)


def child(kind: str, args: argparse.Namespace, endpoint: str, table: str) -> dict[str, Any]:
    command = [
        sys.executable,
        "-m",
        "benchmarks.run",
        "--child",
        kind,
        "--endpoint",
        endpoint,
        "--table",
        table,
        "--concurrency",
        str(args.concurrency),
        "--events",
        str(args.events),
        "--drift-percent",
        str(args.drift_percent),
    ]
    output = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(output.stdout.strip().splitlines()[-1])
    return result


# -- orchestration ---------------------------------------------------------------------------


@dataclass
class Row:
    events: int
    attendees: int
    pass_wall: float
    floor_wall: float
    requests_per_event: float
    units_per_item: float
    pass_rss: float
    floor_rss: float
    corrected: int
    seed_seconds: float

    @property
    def ratio(self) -> float:
        return self.pass_wall / self.floor_wall


def scenario(args: argparse.Namespace, events: int, attendees: int, repeat: int) -> Row:
    print(f"scenario {events} events x {attendees} attendees", file=sys.stderr, flush=True)
    with Dynalite() as server:
        ddb = local_clients(server.endpoint).dynamodb()
        table = f"bench-{uuid.uuid4().hex[:8]}"
        create_table(ddb, table)
        started = time.perf_counter()
        seed(ddb, table, events, attendees, args.drift_percent)
        seeded = time.perf_counter() - started
        print(f"  seeded in {seeded:.1f} s", file=sys.stderr, flush=True)
        sub = argparse.Namespace(**{**vars(args), "events": events})
        passes: list[dict[str, Any]] = []
        floors: list[dict[str, Any]] = []
        for attempt in range(repeat):
            floors.append(child("floor", sub, server.endpoint, table))
            passes.append(child("pass", sub, server.endpoint, table))
            print(
                f"  run {attempt + 1}: pass {passes[-1]['wall']:.2f} s, "
                f"floor {floors[-1]['wall']:.2f} s",
                file=sys.stderr,
                flush=True,
            )
    first = passes[0]["summary"]
    best_pass = min(p["wall"] for p in passes)
    best_floor = min(f["wall"] for f in floors)
    requests = sum(first["requests"].values())
    return Row(
        events=events,
        attendees=attendees,
        pass_wall=best_pass,
        floor_wall=best_floor,
        requests_per_event=requests / events,
        units_per_item=first["consumed_read_units"] / (events * attendees),
        pass_rss=max(p["rss_mb"] for p in passes),
        floor_rss=max(f["rss_mb"] for f in floors),
        corrected=first["corrected"],
        seed_seconds=seeded,
    )


def table_markdown(rows: list[Row], concurrency: int) -> str:
    lines = [
        "| events x attendees | attendee items | pass wall (s) | floor wall (s) | pass / floor "
        "| requests / event | read units / attendee item | peak RSS pass (MB) "
        "| peak RSS floor (MB) | corrected |",
        "|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        lines.append(
            f"| {row.events:,} x {row.attendees} | {row.events * row.attendees:,} "
            f"| {row.pass_wall:.2f} | {row.floor_wall:.2f} | {row.ratio:.2f} "
            f"| {row.requests_per_event:.3f} | {row.units_per_item:.4f} "
            f"| {row.pass_rss:.0f} | {row.floor_rss:.0f} | {row.corrected} |"
        )
    lines.append("")
    lines.append(
        f"concurrency {concurrency}; best of the repeats for wall time; dynalite on loopback."
    )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.run", description=__doc__)
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--attendees", type=int, default=50)
    parser.add_argument("--large", action=argparse.BooleanOptionalAction, default=True)
    parser.add_argument("--large-events", type=int, default=20000)
    parser.add_argument("--large-attendees", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=4)
    parser.add_argument("--drift-percent", type=float, default=1.0)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--markdown", type=Path, help="also write the results table here")
    parser.add_argument("--child", choices=("pass", "floor"), help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--table", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child == "pass":
        print(json.dumps(measure_pass(args.endpoint, args.table, args.concurrency)))
        return 0
    if args.child == "floor":
        result = measure_floor(
            args.endpoint, args.table, args.concurrency, args.events, args.drift_percent
        )
        print(json.dumps(result))
        return 0

    rows = [scenario(args, args.events, args.attendees, args.repeat)]
    if args.large:
        rows.append(scenario(args, args.large_events, args.large_attendees, 1))
    text = table_markdown(rows, args.concurrency)
    print(text)
    if args.markdown:
        args.markdown.write_text(text + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
