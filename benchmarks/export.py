"""Benchmark of the DuckDB recount of a DynamoDB export: items per second and peak RSS.

    python -m benchmarks.export                          # 1M, 3M and 10M items (part of make bench)
    python -m benchmarks.export --items 200000           # a quick look
    python -m benchmarks.export --markdown               # also into docs/benchmarks.md

Each size's export is generated in AWS's layout first (events of ``--attendees`` attendee items
of the registration system's shape, about 280 bytes a line; ``--drift-percent`` of the counters
off; not timed) and kept in ``--cache`` for the next run. Each is then counted in a child
process of its own, so that the peak RSS (``VmHWM``) is that count's alone: manifest verified
(MD5 of every data file), one DuckDB scan, every suspect judged, which is all a pass's export
sweep does before its live looks. The issue's targets: at least 1M items per second on the
2-core machine, and a peak RSS under 1 GB at 10M items that stays flat as the export grows.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from benchmarks.bare import peak_rss_mb
from benchmarks.latency import write_markdown
from reconciler.devtools.export_writer import ExportSpec, generate_export
from reconciler.kernel.model import TableModel
from reconciler.reconcile.export_core import SnapshotTally, suspects
from reconciler.reconcile.export_duckdb import DuckDbExportReader, load_local_export
from reconciler.reconcile.export_location import EXPORT_ROOT

REPO = Path(__file__).resolve().parent.parent
DOCS_PAGE = REPO / "docs" / "benchmarks.md"
START = "<!-- export-table:start -->"
END = "<!-- export-table:end -->"
TARGET_ITEMS_PER_SECOND = 1_000_000
TARGET_PEAK_RSS_MB = 1024
ITEMS_PER_FILE = 250_000
"""DynamoDB splits an export into many files; a generated one gets one per this many items."""


def measure(directory: Path, threads: int | None = None) -> dict[str, Any]:
    """Verify and count the export in ``directory``; what a pass's snapshot sweep would do."""
    started = time.perf_counter()
    manifest, paths = load_local_export(directory)
    verified = time.perf_counter()
    reader = DuckDbExportReader(TableModel(), threads=threads)
    tally = SnapshotTally()
    found = sum(1 for _ in suspects(reader.snapshot(paths, manifest), tally))
    counted = time.perf_counter()
    items = manifest.summary.item_count
    return {
        "items": items,
        "files": len(paths),
        "bytes": sum(Path(path).stat().st_size for path in paths),
        "events": tally.events,
        "suspects": found,
        "verify_seconds": round(verified - started, 3),
        "count_seconds": round(counted - verified, 3),
        "seconds": round(counted - started, 3),
        "items_per_second": round(items / (counted - started)),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def cached_export(cache: Path, items: int, attendees: int, drift: float) -> Path:
    """The export of this size, generated once: ``<cache>/<spec>/AWSDynamoDB/<id>``."""
    events = max(1, items // (attendees + 1))
    files = max(8, items // ITEMS_PER_FILE)
    root = cache / f"events{events}-attendees{attendees}-drift{drift:g}-files{files}"
    done = root / "complete"
    if not done.exists():
        started = time.perf_counter()
        spec = ExportSpec(events, attendees, drift, files, seed=1)
        generated = generate_export(root, spec)
        done.touch()
        print(
            f"generated {generated.items:,} items in {time.perf_counter() - started:.1f} s",
            file=sys.stderr,
        )
    (directory,) = (root / EXPORT_ROOT).iterdir()
    return directory


def count_in_child(directory: Path, threads: int | None) -> dict[str, Any]:
    command = [sys.executable, "-m", "benchmarks.export", "--count-only", str(directory)]
    if threads is not None:
        command += ["--threads", str(threads)]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    measured: dict[str, Any] = json.loads(result.stdout)
    return measured


def table_markdown(results: list[dict[str, Any]]) -> str:
    lines = [
        "| export items | files | gzip MB | events | suspects | verify (s) | count (s) "
        "| items per second | peak RSS (MB) |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in results:
        lines.append(
            f"| {r['items']:,} | {r['files']} | {r['bytes'] / 2**20:,.0f} | {r['events']:,} "
            f"| {r['suspects']:,} | {r['verify_seconds']:.2f} | {r['count_seconds']:.2f} "
            f"| **{r['items_per_second']:,}** | **{r['peak_rss_mb']:.0f}** |"
        )
    largest = max(results, key=lambda r: r["items"])
    smallest = min(results, key=lambda r: r["items"])
    growth = largest["peak_rss_mb"] / smallest["peak_rss_mb"]
    lines += [
        "",
        f"Targets: at least {TARGET_ITEMS_PER_SECOND:,} items per second, under "
        f"{TARGET_PEAK_RSS_MB:,} MB at {largest['items']:,} items, flat as the export grows "
        f"(here {growth:.2f}{chr(0xD7)} the RSS for {largest['items'] / smallest['items']:.0f}"
        f"{chr(0xD7)} the items). Items per second include the MD5 check of every file. "
        f"One run each; {os.cpu_count()} CPUs, Python {platform.python_version()}, "
        f"load average {os.getloadavg()[0]:.1f} at the end.",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m benchmarks.export",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--items", default="1000000,3000000,10000000", help="comma-separated")
    parser.add_argument("--attendees", type=int, default=50)
    parser.add_argument("--drift-percent", type=float, default=1.0)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--cache", type=Path, default=REPO / ".bench-cache" / "exports")
    parser.add_argument("--markdown", type=Path, nargs="?", const=DOCS_PAGE)
    parser.add_argument("--count-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.count_only is not None:
        print(json.dumps(measure(args.count_only, args.threads)))
        return 0
    results = []
    for items in sorted(int(text) for text in args.items.split(",")):
        directory = cached_export(args.cache, items, args.attendees, args.drift_percent)
        results.append(count_in_child(directory, args.threads))
        print(json.dumps(results[-1]), file=sys.stderr)
    table = table_markdown(results)
    print(table)
    if args.markdown:
        write_markdown(args.markdown, table, START, END)
    return 0


if __name__ == "__main__":
    sys.exit(main())
