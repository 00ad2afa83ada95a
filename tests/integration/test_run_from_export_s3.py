"""``reconciler run --once --from-export s3://...`` on a moto server: an export in AWS's layout
uploaded to S3, downloaded a batch at a time, recounted, and confirmed live."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import pytest

from reconciler.devtools.export_writer import export_table, upload_export
from reconciler.kernel.aws import Clients
from reconciler.reconcile.export_manifest import DATA_DIRECTORY, SUMMARY_NAME
from tests.integration.test_run_from_export import _key, _run, seeded
from tests.integration.traffic import Table

BUCKET = "exports-bucket"


@pytest.fixture
def table(clients: Clients, table_name: str) -> Table:
    return seeded(clients, table_name)


@pytest.fixture
def s3(clients: Clients) -> object:
    client = clients.s3()
    client.create_bucket(Bucket=BUCKET)
    return client


def _late_registration(table: Table) -> None:
    """After the export: a registration on "meetup", its counter updated as the handler does."""
    table.register("meetup", "late@example.test")
    table.ddb.update_item(
        TableName=table.name,
        Key={"pk": {"S": "FAD"}, "sk": {"S": "meetup#2026-06-01"}},
        UpdateExpression="ADD attendeeCount :one, counterVersion :one",
        ExpressionAttributeValues={":one": {"N": "1"}},
    )


def test_an_export_in_s3_corrects_exactly_the_drift_the_live_table_still_shows(
    table: Table, s3: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export = export_table(tmp_path, table.ddb, table.name, files=3)
    uri = upload_export(s3, export.directory, BUCKET, "exports")
    assert uri == f"s3://{BUCKET}/exports/AWSDynamoDB/{export.directory.name}/"
    _late_registration(table)
    code, summary, _ = _run(capsys, table, "--from-export", uri)
    assert code == 0
    assert summary["export"]["id"] == export.directory.name
    assert (summary["export"]["events"], summary["export"]["suspects"]) == (5, 3)
    assert (summary["corrected"], summary["in_flux"], summary["in_sync"]) == (2, 1, 2)
    assert table.stored(_key("expo")) == table.true_count("expo") == 2
    assert table.stored(_key("talk")) == table.true_count("talk") == 1
    assert table.stored(_key("meetup")) == 1  # written after the export: never corrected


def test_a_location_of_several_exports_reads_the_newest_complete_one(
    table: Table, s3: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    older = export_table(
        tmp_path / "a", table.ddb, table.name, export_time=datetime(2026, 5, 1, tzinfo=UTC)
    )
    newer = export_table(
        tmp_path / "b", table.ddb, table.name, export_time=datetime(2026, 5, 2, tzinfo=UTC), seed=1
    )
    running = export_table(tmp_path / "c", table.ddb, table.name, seed=2)  # newest, unfinished
    (running.directory / SUMMARY_NAME).unlink()
    assert len({e.directory.name for e in (older, newer, running)}) == 3
    for export in (older, newer, running):
        upload_export(s3, export.directory, BUCKET, "exports/")
    code, summary, _ = _run(capsys, table, "--from-export", f"s3://{BUCKET}/exports")
    assert code == 0
    assert summary["export"]["id"] == newer.directory.name
    assert summary["corrected"] == 3


def test_a_local_location_of_several_exports_reads_the_newest_complete_one(
    table: Table, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    export_table(tmp_path, table.ddb, table.name, export_time=datetime(2026, 5, 2, tzinfo=UTC))
    newest = export_table(
        tmp_path / "x", table.ddb, table.name, export_time=datetime(2026, 5, 3, tzinfo=UTC), seed=1
    )
    code, summary, _ = _run(capsys, table, "--from-export", str(tmp_path), "--dry-run")
    assert code == 0
    assert summary["export"]["id"] == newest.directory.name


def _refused(capsys: pytest.CaptureFixture[str], table: Table, uri: str, problem: str) -> None:
    code, summary, _ = _run(capsys, table, "--from-export", uri)
    assert code == 1
    assert summary["failed"] is True
    assert problem in summary["error"]
    assert table.stored(_key("expo")) == 5  # nothing written


def _uploaded_with_a_data_file(table: Table, s3: object, tmp_path: Path) -> tuple[str, str, str]:
    """An export of ``table`` in S3: its URI, and the key and name of one of its data files."""
    export = export_table(tmp_path, table.ddb, table.name, files=2)
    uri = upload_export(s3, export.directory, BUCKET)
    name = next((export.directory / DATA_DIRECTORY).glob("*")).name
    return uri, f"AWSDynamoDB/{export.directory.name}/{DATA_DIRECTORY}/{name}", name


def test_an_export_missing_a_data_file_in_s3_is_refused_and_nothing_is_written(
    table: Table, s3: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri, key, _ = _uploaded_with_a_data_file(table, s3, tmp_path)
    s3.delete_object(Bucket=BUCKET, Key=key)  # type: ignore[attr-defined]
    _refused(capsys, table, uri, f"s3://{BUCKET}/{key} missing")


def test_a_data_file_whose_md5_differs_from_the_manifest_is_refused_before_it_is_read(
    table: Table, s3: object, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    uri, key, name = _uploaded_with_a_data_file(table, s3, tmp_path)
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"tampered")  # type: ignore[attr-defined]
    _refused(capsys, table, uri, f"{DATA_DIRECTORY}/{name}: MD5 differs")


def test_an_export_in_a_missing_bucket_is_refused_with_the_bucket_named(
    table: Table, clients: Clients, capsys: pytest.CaptureFixture[str]
) -> None:
    _refused(capsys, table, "s3://no-such-bucket/exports/", "'no-such-bucket' does not exist")
