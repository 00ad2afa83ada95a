"""``benchmarks/export.py`` runs at a tiny size, so it cannot rot between benchmark runs."""

from __future__ import annotations

from pathlib import Path

from benchmarks.export import measure
from reconciler.devtools.export_writer import ExportSpec, generate_export


def test_the_export_benchmark_counts_a_small_export_and_finds_its_drift(tmp_path: Path) -> None:
    spec = ExportSpec(events=40, attendees_per_event=9, drift_percent=10, files=2, seed=5)
    generated = generate_export(tmp_path, spec)
    result = measure(generated.directory, threads=1)
    assert (result["items"], result["events"]) == (400, 40)
    assert result["suspects"] == len(generated.drifted) > 0
    assert result["peak_rss_mb"] > 0
