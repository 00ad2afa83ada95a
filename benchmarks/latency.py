"""Benchmark with a round trip: the reconciler's passes against their floors on dynalite with a
delay added to every request, standing in for the in-region round trip to DynamoDB.

    python -m benchmarks.latency                      # 2,000 events x 20 attendees, 5 ms
    python -m benchmarks.latency --events 200 --attendees 5 --delay-ms 1
    python -m benchmarks.latency --markdown           # also into docs/benchmarks.md

On loopback a request costs little more than the emulator's work, so anything a pass does one
request at a time is hidden (``benchmarks.run`` measures that case). Here one dynalite, holding
every request ``--delay-ms``, serves four tables seeded alike (events over both event
partitions, ``--attendees`` each): ``reads`` with ``--drift-percent`` of the counters off by
one, and three with every counter off by one, one of them backfilled so that its pass takes the
ledger path. Each scenario (``benchmarks.scenarios``) runs once, in a child process of its own,
and is compared with its floor: the same requests issued by a
bare loop at the same concurrency, with no logic at all. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import platform
import shutil
import statistics
import subprocess
import sys
import time
import uuid
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

from benchmarks.bare import MODEL, BareRequests
from benchmarks.handler import item_size
from benchmarks.run import REPO, event_sort_key, local_clients, seed, slug
from benchmarks.scenarios import ALL_SCENARIOS, SCENARIOS, Result, Scenario, run_scenario
from reconciler.devtools.dynalite import TOOLS, Dynalite
from reconciler.devtools.local_table import create_state_table, create_table
from reconciler.kernel.ledger import default_state_table
from reconciler.kernel.logs import configure_logging
from reconciler.reconcile.backfill import Backfill, BackfillOptions
from reconciler.reconcile.backfill_dynamo import DynamoAttendeeHashes, DynamoLedgerClaims

DOCS_PAGE = REPO / "docs" / "benchmarks.md"
START = "<!-- latency-table:start -->"
END = "<!-- latency-table:end -->"
"""``--markdown`` replaces what lies between these two lines of an existing page, so the
prose around the table is written by hand and survives every run."""

ROUND_TRIP_SAMPLES = 50
TIMES = "\N{MULTIPLICATION SIGN}"


def log(message: str) -> None:
    print(message, file=sys.stderr, flush=True)


def round_trip_ms(endpoint: str, table: str) -> float:
    """Median of sequential consistent ``GetItem`` calls: the delay measured, not assumed."""
    bare = BareRequests(local_clients(endpoint).dynamodb(), table)
    key = (MODEL.event_partitions[0], event_sort_key(0))
    samples = []
    for _ in range(ROUND_TRIP_SAMPLES):
        started = time.perf_counter()
        bare.get(key)
        samples.append(time.perf_counter() - started)
    return statistics.median(samples) * 1000


def seeded_table(ddb: Any, args: argparse.Namespace, drift_percent: float) -> str:
    table = f"bench-{uuid.uuid4().hex[:8]}"
    create_table(ddb, table)
    seed(ddb, table, args.events, args.attendees, drift_percent)
    return table


def backfilled(endpoint: str, table: str, events: int, concurrency: int) -> str:
    """What ``reconciler init --backfill`` does (settle 0): every attendee item gets its ledger
    entry and every event its ``backfilledAt``, so the passes take the ledger path here."""
    configure_logging("json", "warning", stream=io.StringIO())
    ddb = local_clients(endpoint).dynamodb()
    state = default_state_table(table)
    create_state_table(ddb, state, ttl=False)
    run = Backfill(
        DynamoAttendeeHashes(ddb, table, MODEL),
        DynamoLedgerClaims(ddb, state),
        BackfillOptions(settle_seconds=0.0, concurrency=concurrency),
    )
    summary = run.run(slug(i) for i in range(events))
    if summary.failed:
        raise SystemExit(f"backfill of {table} failed: {summary.error}")
    return table


def child(scenario: Scenario, endpoint: str, table: str, concurrency: int) -> Result:
    command = [
        sys.executable,
        "-m",
        "benchmarks.latency",
        "--child",
        scenario.name,
        "--endpoint",
        endpoint,
        "--table",
        table,
        "--concurrency",
        str(concurrency),
    ]
    output = subprocess.run(command, cwd=REPO, capture_output=True, text=True, check=False)
    if output.returncode != 0:
        raise SystemExit(f"scenario {scenario.name} failed:\n{output.stderr}")
    result: Result = json.loads(output.stdout.strip().splitlines()[-1])
    return result


def measure(args: argparse.Namespace) -> tuple[dict[str, Result], dict[str, float]]:
    """Every scenario on one delayed dynalite, and the round trip with and without the delay."""
    with Dynalite() as loopback:
        ddb = local_clients(loopback.endpoint).dynamodb()
        table = seeded_table(ddb, argparse.Namespace(events=1, attendees=1), 0.0)
        undelayed = round_trip_ms(loopback.endpoint, table)
    with Dynalite(delay_ms=args.delay_ms) as server:
        ddb = local_clients(server.endpoint).dynamodb()
        started = time.perf_counter()
        drifts = {"reads": args.drift_percent, "writing": 100.0, "protocol": 100.0, "ledger": 100.0}
        small = argparse.Namespace(events=args.small_events, attendees=args.small_attendees)
        with ThreadPoolExecutor(len(drifts) + 1) as pool:
            futures = {name: pool.submit(seeded_table, ddb, args, d) for name, d in drifts.items()}
            if args.small_events:
                # In sync: the scan sweep's read units are then the scan's alone, to compare
                # with the table-size minimum (the drifted case is the dry_run_scan row).
                futures["small"] = pool.submit(seeded_table, ddb, small, 0.0)
            tables = {name: future.result() for name, future in futures.items()}
        tables["ledger"] = backfilled(
            server.endpoint, tables["ledger"], args.events, args.concurrency
        )
        log(f"seeded {len(tables)} tables in {time.perf_counter() - started:.1f} s")
        delayed = round_trip_ms(server.endpoint, tables["reads"])
        log(f"round trip {delayed:.1f} ms ({undelayed:.1f} ms without the delay)")
        results: dict[str, Result] = {}
        for scenario in scenarios(args):
            results[scenario.name] = child(
                scenario, server.endpoint, tables[scenario.table], args.concurrency
            )
            log(f"  {scenario.name}: {results[scenario.name]['wall']:.2f} s")
        figures = {"delayed": delayed, "undelayed": undelayed}
        if "small" in tables:
            figures["small_minimum"] = minimum_read_units(server.endpoint, tables["small"])
    return results, figures


def scenarios(args: argparse.Namespace) -> tuple[Scenario, ...]:
    return ALL_SCENARIOS if args.small_events else SCENARIOS


def minimum_read_units(endpoint: str, table: str) -> float:
    """The least any read of the whole table can consume: the sum of its item sizes over 4 KB,
    halved for eventually consistent reads (what a scan sweep is held to)."""
    ddb = local_clients(endpoint).dynamodb()
    total = 0
    kwargs: dict[str, Any] = {"TableName": table}
    while True:
        page = ddb.scan(**kwargs)
        total += sum(item_size(item) for item in page.get("Items", []))
        if not page.get("LastEvaluatedKey"):
            return total / 4096 / 2
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def machine() -> str:
    model = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as cpuinfo:
            names = [
                line.split(":", 1)[1].strip() for line in cpuinfo if line.startswith("model name")
            ]
        model = names[0] if names else model
    except OSError:
        pass
    node = shutil.which("node")
    node_version = (
        subprocess.run(
            [node, "--version"], capture_output=True, text=True, check=False
        ).stdout.strip()
        if node
        else "?"
    )
    try:
        package = json.loads((TOOLS / "node_modules" / "dynalite" / "package.json").read_text())
        dynalite_version = package["version"]
    except (OSError, ValueError, KeyError):
        dynalite_version = "?"
    return (
        f"{os.cpu_count()} CPUs ({model}), Python {platform.python_version()}, "
        f"node {node_version}, dynalite {dynalite_version}, "
        f"load average {os.getloadavg()[0]:.1f} at the end (other work on the machine slows "
        "the emulator: compare runs at a similar load)"
    )


def table_markdown(
    args: argparse.Namespace, results: dict[str, Result], round_trip: dict[str, float]
) -> str:
    lines = [
        "| scenario | time (s) | vs its floor | vs the read floor | requests | read units "
        "| write units | peak RSS (MB) | corrected |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    read_floor = results["floor"]["wall"]
    for scenario in scenarios(args):
        result = results[scenario.name]
        label = scenario_label(scenario, args)
        own = result["wall"] / results[scenario.floor]["wall"]
        own_text = f"{own:.2f}{TIMES}"
        if scenario.floor == "protocol":
            own_text = f"**{own_text}** (protocol floor)"
        elif scenario.floor == "small_query" and scenario.name != "small_query":
            own_text = f"**{own_text}** (query sweep)"
        versus_read_floor = (
            "\N{EN DASH}"
            if scenario.table == "small"
            else f"{result['wall'] / read_floor:.2f}{TIMES}"
        )
        lines.append(
            f"| {label} | {result['wall']:.2f} | {own_text} "
            f"| {versus_read_floor} | {result['requests']:,} "
            f"| {result['read_units']:,.1f} | {result['write_units']:,.1f} "
            f"| {result['rss_mb']:.0f} | {result['corrected']:,} |"
        )
    lines += [
        "",
        f"{args.events:,} events {TIMES} {args.attendees} attendees "
        f"({args.events * args.attendees:,} attendee items), concurrency {args.concurrency}, "
        f"{args.delay_ms:g} ms added to every request (measured round trip: median "
        f"{round_trip['delayed']:.1f} ms, {round_trip['undelayed']:.1f} ms without the delay); "
        f"one run each; {machine()}.",
    ]
    if "small_minimum" in round_trip:
        minimum = round_trip["small_minimum"]
        consumed = results["small_scan"]["read_units"]
        lines += [
            "",
            f"Many small events: {args.small_events:,} events {TIMES} {args.small_attendees} "
            f"attendees; the table-size minimum (item sizes / 4 KB, halved for eventually "
            f"consistent reads) is {minimum:,.1f} read units, and the scan sweep consumed "
            f"{consumed:,.1f} ({consumed / minimum:.3f}{TIMES}).",
        ]
    return "\n".join(lines)


def scenario_label(scenario: Scenario, args: argparse.Namespace) -> str:
    return scenario.label.format(
        c=args.concurrency,
        d=args.drift_percent,
        e=args.small_events,
        a=args.small_attendees,
        x=TIMES,
    )


def write_markdown(path: Path, table: str, start: str = START, end: str = END) -> None:
    """Between the markers of an existing page, or the table alone as a new file."""
    block = f"{start}\n{table}\n{end}"
    text = path.read_text() if path.exists() else ""
    if start in text and end in text:
        head, rest = text.split(start, 1)
        text = head + block + rest.split(end, 1)[1]
    else:
        text = block + "\n"
    path.write_text(text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.latency",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--attendees", type=int, default=20)
    parser.add_argument("--delay-ms", type=float, default=5.0)
    parser.add_argument("--concurrency", type=int, default=16)
    parser.add_argument("--drift-percent", type=float, default=10.0)
    parser.add_argument(
        "--small-events",
        type=int,
        default=20000,
        help="events of the many-small-events table for the scan sweep (0 skips it)",
    )
    parser.add_argument("--small-attendees", type=int, default=3)
    parser.add_argument(
        "--markdown",
        type=Path,
        nargs="?",
        const=DOCS_PAGE,
        help=f"also write the table into this page (default {DOCS_PAGE.relative_to(REPO)})",
    )
    parser.add_argument("--child", choices=[s.name for s in ALL_SCENARIOS], help=argparse.SUPPRESS)
    parser.add_argument("--endpoint", help=argparse.SUPPRESS)
    parser.add_argument("--table", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.child:
        print(json.dumps(run_scenario(args.child, args.endpoint, args.table, args.concurrency)))
        return 0
    results, round_trip = measure(args)
    table = table_markdown(args, results, round_trip)
    print(table)
    if args.markdown:
        write_markdown(args.markdown, table)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
