"""``--from-export`` and ``--engine``: what works now, and a clear refusal for the rest."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from reconciler.kernel.aws import Clients
from reconciler.kernel.errors import ConfigError
from reconciler.reconcile.bootstrap import build_reconciler
from reconciler.reconcile.export_location import NewExport, S3Location
from tests.unit.test_reconcile_settings import parse


def test_a_local_export_directory_is_read_by_duckdb_by_default(tmp_path: Path) -> None:
    settings = parse(["--from-export", str(tmp_path)])
    assert (settings.from_export, settings.engine) == (tmp_path, "duckdb")
    assert parse([]).from_export is None


def test_an_s3_uri_names_a_bucket_and_a_directory_prefix() -> None:
    settings = parse(["--from-export", "s3://bucket/prefix/AWSDynamoDB/01234-abc"])
    assert settings.from_export == S3Location("bucket", "prefix/AWSDynamoDB/01234-abc/")
    assert parse(["--from-export", "s3://bucket"]).from_export == S3Location("bucket", "")


@pytest.mark.parametrize("uri", ["s3://Not_A_Bucket/x", "gs://bucket/x"])
def test_a_uri_that_is_not_an_s3_location_is_refused(uri: str) -> None:
    with pytest.raises(ConfigError, match="--from-export: "):
        parse(["--from-export", uri])


def test_a_new_export_needs_a_bucket() -> None:
    with pytest.raises(
        ConfigError, match=r"--export-bucket .*: is required with --from-export new"
    ):
        parse(["--from-export", "new"])


def test_a_new_export_takes_its_bucket_prefix_owner_and_timeout() -> None:
    settings = parse(
        [
            *("--from-export", "new", "--export-bucket", "exports-bucket"),
            *("--export-prefix", "/a/b/", "--export-bucket-owner", "123456789012"),
            *("--export-timeout", "30m"),
        ]
    )
    assert settings.from_export == NewExport("exports-bucket", "a/b", "123456789012", 1800.0)


def test_a_new_export_waits_two_hours_by_default_and_reads_the_environment() -> None:
    settings = parse(["--from-export", "new"], {"RECONCILER_EXPORT_BUCKET": "exports-bucket"})
    assert settings.from_export == NewExport("exports-bucket", timeout_seconds=7200.0)


@pytest.mark.parametrize(
    "flag", [["--export-bucket", "b-u-c"], ["--export-prefix", "p"], ["--export-timeout", "1h"]]
)
def test_new_export_flags_are_refused_without_a_new_export(tmp_path: Path, flag: list[str]) -> None:
    with pytest.raises(ConfigError, match=f"{flag[0]}: only applies with --from-export new"):
        parse(["--from-export", str(tmp_path), *flag])
    with pytest.raises(ConfigError, match=f"{flag[0]}: only applies with --from-export new"):
        parse(flag)


@pytest.mark.parametrize(
    ("flag", "problem"),
    [
        (["--export-bucket", "UPPER"], "is not an S3 bucket name"),
        (["--export-bucket", "b-u-c", "--export-bucket-owner", "me"], "12-digit"),
        (["--export-bucket", "b-u-c", "--export-timeout", "0"], "--export-timeout"),
    ],
)
def test_bad_new_export_settings_are_refused_at_start_up(flag: list[str], problem: str) -> None:
    with pytest.raises(ConfigError, match=problem):
        parse(["--from-export", "new", *flag])


def test_the_spark_engine_reads_an_existing_export_local_or_in_s3_never_a_new_one() -> None:
    settings = parse(["--from-export", "s3://bucket/exports/", "--engine", "spark"])
    assert settings.engine == "spark"
    with pytest.raises(ConfigError, match="--engine: spark reads an existing export"):
        parse(["--from-export", "new", "--export-bucket", "b-u-c", "--engine", "spark"])


def test_the_spark_engine_runs_its_job_on_all_local_cores_by_default(tmp_path: Path) -> None:
    settings = parse(["--from-export", str(tmp_path), "--engine", "spark"])
    assert (settings.engine, settings.spark_master) == ("spark", "local[*]")


@pytest.mark.parametrize("master", ["local", "local[2]", "local[4,3]", "spark://h1:7077,h2:7077"])
def test_a_spark_master_is_taken_from_the_flag_or_the_environment(
    tmp_path: Path, master: str
) -> None:
    flags = ["--from-export", str(tmp_path), "--engine", "spark"]
    assert parse([*flags, "--spark-master", master]).spark_master == master
    assert parse(flags, {"RECONCILER_SPARK_MASTER": master}).spark_master == master


@pytest.mark.parametrize("master", ["local[0]", "local[two]", "mesos", "spark://", "local[*] x"])
def test_a_malformed_spark_master_is_refused(tmp_path: Path, master: str) -> None:
    with pytest.raises(ConfigError, match="--spark-master: is not a Spark master"):
        parse(["--from-export", str(tmp_path), "--engine", "spark", "--spark-master", master])


def test_a_spark_master_without_the_spark_engine_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--spark-master: only applies with --engine spark"):
        parse(["--from-export", str(tmp_path), "--spark-master", "local[2]"])


def test_an_engine_without_an_export_is_refused() -> None:
    with pytest.raises(ConfigError, match="--engine: only applies with --from-export"):
        parse(["--engine", "duckdb"])


def test_a_missing_export_directory_is_refused(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="--from-export: is not a directory"):
        parse(["--from-export", str(tmp_path / "nowhere")])


@pytest.mark.parametrize(
    "flag", [["--shard", "0/2"], ["--sweep", "scan"], ["--max-read-units", "10"]]
)
def test_sweep_flags_are_refused_with_an_export(tmp_path: Path, flag: list[str]) -> None:
    with pytest.raises(ConfigError, match=f"{flag[0]}: cannot be combined with --from-export"):
        parse(["--from-export", str(tmp_path), *flag])


def test_without_duckdb_the_export_names_the_extra_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(sys.modules, "duckdb", None)
    monkeypatch.delitem(sys.modules, "reconciler.reconcile.export_duckdb", raising=False)
    settings = parse(["--from-export", str(tmp_path)])
    with pytest.raises(ConfigError, match=r"pip install '\.\[export\]'"):
        build_reconciler(settings, Clients())
