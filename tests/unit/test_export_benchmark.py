"""``benchmarks/export.py`` runs at a tiny size, so it cannot rot between benchmark runs."""

from __future__ import annotations

from pathlib import Path

from benchmarks.export import cached_export, main, measure
from reconciler.devtools.export_writer import ExportSpec, generate_export


def test_the_export_benchmark_counts_a_small_export_and_finds_its_drift(tmp_path: Path) -> None:
    spec = ExportSpec(events=40, attendees_per_event=9, drift_percent=10, files=2, seed=5)
    generated = generate_export(tmp_path, spec)
    result = measure(generated.directory, threads=1)
    assert (result["items"], result["events"]) == (400, 40)
    assert result["suspects"] == len(generated.drifted) > 0
    assert result["peak_rss_mb"] > 0


def test_an_export_of_a_size_is_generated_once_and_then_reused(tmp_path: Path) -> None:
    first = cached_export(tmp_path, 1_000, attendees=9, drift=5.0)
    stamp = (first / "manifest-summary.json").stat().st_mtime_ns
    assert cached_export(tmp_path, 1_000, attendees=9, drift=5.0) == first
    assert (first / "manifest-summary.json").stat().st_mtime_ns == stamp


def test_the_benchmark_writes_its_table_between_the_page_markers(tmp_path: Path) -> None:
    page = tmp_path / "page.md"
    page.write_text("intro\n<!-- export-table:start -->\nold\n<!-- export-table:end -->\noutro\n")
    code = main(
        ["--items", "600,1200", "--cache", str(tmp_path / "cache"), "--markdown", str(page)]
    )
    text = page.read_text()
    assert code == 0
    assert text.startswith("intro\n<!-- export-table:start -->\n| export items |")
    assert text.endswith("<!-- export-table:end -->\noutro\n")
    assert "old" not in text
    # 11 and 23 events of 51 items each
    assert "| 561 |" in text
    assert "| 1,173 |" in text
