"""The scenarios of the latency benchmark (``benchmarks.latency``), each run in a child process
of its own so that its peak RSS is its own.

Each returns the same shape: wall time, peak RSS, requests sent, read and write units consumed,
and what it corrected (for a pass, from its summary; for the others, the writes that succeeded).
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Any

from benchmarks.bare import BareRequests, Key, timed
from benchmarks.run import local_clients, measure_floor, measure_pass
from reconciler.reconcile.scan_core import SweepMode

Result = dict[str, Any]


@dataclass(frozen=True)
class Scenario:
    name: str
    label: str
    table: str
    """Which seeded table it runs on: ``reads`` (10 % drifted; nothing before ``naive`` writes
    to it) or a fresh every-event-drifted one of its own (``ledger``: backfilled, so the pass
    repairs every counter through its ledger, the way it does after a hand edit)."""
    floor: str
    """The scenario it is measured against."""


SCENARIOS = (
    Scenario(
        "floor",
        "floor: a bare Query COUNT + consistent GetItem per event, {c} threads",
        "reads",
        "floor",
    ),
    Scenario(
        "dry_run",
        "`reconciler run --once --dry-run`, {d:g}% of events drifted",
        "reads",
        "floor",
    ),
    Scenario(
        "dry_run_scan",
        "`reconciler run --once --dry-run --sweep scan`, {d:g}% of events drifted",
        "reads",
        "floor",
    ),
    Scenario(
        "naive",
        "a naive sequential cron recount (Query COUNT + unconditional write per event, 1 thread)",
        "reads",
        "floor",
    ),
    Scenario(
        "writing",
        "`reconciler run --once`, every event drifted, writing",
        "writing",
        "protocol",
    ),
    Scenario(
        "protocol",
        "protocol floor for that pass: two bare looks + one conditional write per event, "
        "{c} threads",
        "protocol",
        "floor",
    ),
    Scenario(
        "ledger_writing",
        "`reconciler run --once`, ledger mode (backfilled), every counter off its ledger, writing",
        "ledger",
        "protocol",
    ),
)
"""In the order they run: the naive recount corrects the ``reads`` table, so it comes after
the dry runs there. The passes take the query sweep (the floors send per-event requests) except
``dry_run_scan``, which reads the table once with ``--sweep scan`` (what ``auto`` picks for a
table of many small events) and is still compared with the per-event read floor."""

SMALL_SCENARIOS = (
    Scenario(
        "small_query",
        "many small events ({e:,} {x} {a}): `run --once --dry-run --sweep query`",
        "small",
        "small_query",
    ),
    Scenario(
        "small_scan",
        "many small events ({e:,} {x} {a}): `run --once --dry-run --sweep scan`",
        "small",
        "small_query",
    ),
)
"""On a table of many small events, the scan sweep against the query sweep (issue 10's
target: at most half its time, read units within 1.1x the table-size minimum)."""
ALL_SCENARIOS = (*SCENARIOS, *SMALL_SCENARIOS)


def read_floor(endpoint: str, table: str, concurrency: int) -> Result:
    """The least a pass that finds nothing to correct costs: one look per event."""
    return measure_floor(endpoint, table, concurrency, events=0, drift_percent=0.0)


def reconcile_pass(
    endpoint: str, table: str, concurrency: int, dry_run: bool, sweep: SweepMode = SweepMode.QUERY
) -> Result:
    """``run --once`` as the CLI builds it (settle 0, no read limit, the brake forced off)."""
    measured = measure_pass(endpoint, table, concurrency, dry_run=dry_run, sweep=sweep)
    summary = measured["summary"]
    return {
        "wall": measured["wall"],
        "rss_mb": measured["rss_mb"],
        "requests": sum(summary["requests"].values()),
        "read_units": summary["consumed_read_units"],
        "write_units": summary["consumed_write_units"],
        "corrected": summary["planned"] if dry_run else summary["corrected"],
    }


def naive_recount(endpoint: str, table: str) -> Result:
    """What a cron job would do: count each event and write the count, one at a time, with no
    look at the counter and no condition (so it can overwrite the handler's work)."""
    bare = BareRequests(local_clients(endpoint).dynamodb(), table)

    def recount() -> None:
        for key in bare.listing():
            bare.blind_write(key, bare.count(key))

    return timed(bare, recount)


def protocol_floor(endpoint: str, table: str, concurrency: int) -> Result:
    """The least a race-safe correction of every event costs: a look, a second look (after the
    settle window, here 0), and a write conditioned on what the second look saw."""
    bare = BareRequests(local_clients(endpoint).dynamodb(), table)

    def correct(key: Key) -> None:
        bare.look(key)
        seen, counted = bare.look(key)
        bare.conditional_write(key, seen, counted)

    def run() -> None:
        with ThreadPoolExecutor(concurrency) as pool:
            for _ in pool.map(correct, bare.listing()):
                pass

    return timed(bare, run)


def run_scenario(name: str, endpoint: str, table: str, concurrency: int) -> Result:
    if name == "floor":
        return read_floor(endpoint, table, concurrency)
    if name == "dry_run":
        return reconcile_pass(endpoint, table, concurrency, dry_run=True)
    if name == "dry_run_scan":
        return reconcile_pass(endpoint, table, concurrency, dry_run=True, sweep=SweepMode.SCAN)
    if name == "small_query":
        return reconcile_pass(endpoint, table, concurrency, dry_run=True)
    if name == "small_scan":
        return reconcile_pass(endpoint, table, concurrency, dry_run=True, sweep=SweepMode.SCAN)
    if name == "naive":
        return naive_recount(endpoint, table)
    if name in ("writing", "ledger_writing"):
        return reconcile_pass(endpoint, table, concurrency, dry_run=False)
    if name == "protocol":
        return protocol_floor(endpoint, table, concurrency)
    raise ValueError(f"no scenario {name!r}")
