"""``serve --from-export``: a fresh export or a location of exports, never one fixed export."""

from __future__ import annotations

import argparse
from pathlib import Path

import pytest

from reconciler.kernel.errors import ConfigError
from reconciler.kernel.settings import Source
from reconciler.reconcile.export_location import NewExport, S3Location
from reconciler.reconcile.settings import RunSettings, add_run_arguments, parse_run_settings
from reconciler.serve.settings import add_serve_arguments, parse_serve_settings


def parse(argv: list[str]) -> RunSettings:
    """The pass settings serve would run with, once serve's own checks accepted them."""
    parser = argparse.ArgumentParser()
    add_run_arguments(parser)
    add_serve_arguments(parser)
    source = Source(parser.parse_args(argv), {"TABLE_NAME": "t"})
    run = parse_run_settings(source)
    parse_serve_settings(source, run)
    return run


def test_serve_requests_a_new_export_each_pass_when_given_a_bucket() -> None:
    settings = parse(["--from-export", "new", "--export-bucket", "exports-bucket"])
    assert settings.from_export == NewExport("exports-bucket")


def test_serve_reads_the_newest_export_of_a_location(tmp_path: Path) -> None:
    (tmp_path / "AWSDynamoDB").mkdir()
    assert parse(["--from-export", str(tmp_path)]).from_export == tmp_path
    assert parse(["--from-export", "s3://bucket/exports"]).from_export == S3Location(
        "bucket", "exports/"
    )


@pytest.mark.parametrize(
    "export",
    [
        "s3://bucket/exports/AWSDynamoDB/01234-abc/",
        "LOCAL/AWSDynamoDB/01234-abc",
        "LOCAL/with-manifest",
    ],
)
def test_serve_refuses_one_fixed_export_since_every_pass_would_read_it_again(
    tmp_path: Path, export: str
) -> None:
    if export.startswith("LOCAL/"):
        directory = tmp_path / export.removeprefix("LOCAL/")
        directory.mkdir(parents=True)
        (directory / "manifest-files.json").write_text("", encoding="utf-8")
        export = str(directory)
    with pytest.raises(ConfigError, match="--from-export: names one export"):
        parse(["--from-export", export])
