"""Benchmark of the DuckDB recount of a DynamoDB export: items per second and peak RSS.

    python -m benchmarks.export                      # 10,000,000 items (a long generation)
    python -m benchmarks.export --items 200000       # a quick look
    python -m benchmarks.export --directory /tmp/exp # reuse an export written before

An export of ``--items`` items in AWS's layout is generated first (events of
``--attendees`` attendee items each, ``--drift-percent`` of their counters off; not timed), then
counted in a child process, so that the peak RSS (``VmHWM``) is the count's alone: manifest
verified (MD5 of every data file), one DuckDB scan, every suspect judged. The issue's targets:
at least 1M items per second on the 2-core machine, peak RSS under 1 GB at 10M items and flat
as the export grows. Not part of ``make test``.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from benchmarks.bare import peak_rss_mb
from reconciler.devtools.export_writer import EXPORT_ROOT, ExportSpec, generate_export
from reconciler.kernel.model import TableModel
from reconciler.reconcile.export_core import SnapshotTally, suspects
from reconciler.reconcile.export_duckdb import DuckDbExportReader, load_local_export


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
        "events": tally.events,
        "suspects": found,
        "verify_seconds": round(verified - started, 3),
        "count_seconds": round(counted - verified, 3),
        "items_per_second": round(items / (counted - started)),
        "count_items_per_second": round(items / (counted - verified)),
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def _export_directory(root: Path) -> Path:
    (directory,) = (root / EXPORT_ROOT).iterdir()
    return directory


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--items", type=int, default=10_000_000)
    parser.add_argument("--attendees", type=int, default=50)
    parser.add_argument("--drift-percent", type=float, default=1.0)
    parser.add_argument("--files", type=int, default=8)
    parser.add_argument("--threads", type=int, default=None)
    parser.add_argument("--directory", type=Path, default=None)
    parser.add_argument("--count-only", type=Path, default=None, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.count_only is not None:
        print(json.dumps(measure(args.count_only, args.threads)))
        return
    root = args.directory or Path(tempfile.mkdtemp(prefix="export-bench-"))
    if not (root / EXPORT_ROOT).exists():
        events = max(1, args.items // (args.attendees + 1))
        spec = ExportSpec(events, args.attendees, args.drift_percent, args.files, seed=1)
        started = time.perf_counter()
        generated = generate_export(root, spec)
        print(f"generated {generated.items} items in {time.perf_counter() - started:.1f} s")
    command = [sys.executable, "-m", "benchmarks.export", "--count-only"]
    command.append(str(_export_directory(root)))
    if args.threads is not None:
        command += ["--threads", str(args.threads)]
    result = subprocess.run(command, check=True, capture_output=True, text=True)
    print(result.stdout.strip())


if __name__ == "__main__":
    main()
