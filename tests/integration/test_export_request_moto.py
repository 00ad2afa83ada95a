"""``--from-export new`` against a moto server: the request DynamoDB receives, the wait, and
what moto's own export (one gzip file of items, no manifests) makes of the pass: a clear
refusal, since it is not AWS's layout. The full new -> read -> confirm path runs on fakes
(tests/unit/test_reconciler_export_new.py)."""

from __future__ import annotations

import pytest

from reconciler.kernel.aws import Clients
from reconciler.reconcile.export_location import NewExport
from reconciler.reconcile.export_manifest import ExportFormatError
from reconciler.reconcile.export_request import (
    COMPLETED,
    DynamoExportService,
    await_export,
)
from tests.fakes.reconcile import FakeClock
from tests.integration.test_run_from_export import _key, _run, seeded
from tests.integration.traffic import Table

BUCKET = "exports-bucket"


@pytest.fixture
def table(clients: Clients, table_name: str) -> Table:
    return seeded(clients, table_name)


SPEC = NewExport(BUCKET, "nightly")


def _enable_pitr(table: Table) -> None:
    table.ddb.update_continuous_backups(
        TableName=table.name,
        PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
    )


@pytest.fixture
def bucket(clients: Clients) -> str:
    clients.s3().create_bucket(Bucket=BUCKET)
    return BUCKET


def _new(capsys: pytest.CaptureFixture[str], table: Table) -> tuple[int, dict[str, object]]:
    argv = ("--from-export", "new", "--export-bucket", BUCKET, "--export-prefix", "nightly")
    code, summary, _ = _run(capsys, table, *argv)
    return code, summary


def test_the_request_asks_for_a_full_dynamodb_json_export_into_the_bucket_and_prefix(
    table: Table, bucket: str
) -> None:
    _enable_pitr(table)
    service = DynamoExportService(table.ddb, table.name)
    requested = service.request("reconciler-20261130T180000Z-0badcafe", SPEC)
    raw = table.ddb.describe_export(ExportArn=requested.arn)["ExportDescription"]
    assert (raw["ExportFormat"], raw["ExportType"]) == ("DYNAMODB_JSON", "FULL_EXPORT")
    assert (raw["S3Bucket"], raw["S3Prefix"]) == (BUCKET, "nightly")
    assert raw["TableArn"].endswith(f"table/{table.name}")


def test_the_wait_ends_when_moto_completes_and_its_layout_is_refused(
    table: Table, bucket: str
) -> None:
    _enable_pitr(table)
    service = DynamoExportService(table.ddb, table.name)
    clock = FakeClock()
    with pytest.raises(ExportFormatError, match="not in AWS's export layout"):
        await_export(service, SPEC, None, clock=clock, sleep=clock.sleep)
    exports = table.ddb.list_exports(
        TableArn=table.ddb.describe_table(TableName=table.name)["Table"]["TableArn"]
    )["ExportSummaries"]
    assert [summary["ExportStatus"] for summary in exports] == [COMPLETED]


def test_a_pass_on_moto_s_export_fails_with_the_layout_named_and_writes_nothing(
    table: Table, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    _enable_pitr(table)
    code, summary = _new(capsys, table)
    assert code == 1
    assert "not in AWS's export layout" in str(summary["error"])
    assert table.stored(_key("expo")) == 5


def test_an_export_into_a_missing_bucket_fails_with_aws_failure_code(
    table: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    _enable_pitr(table)
    code, summary = _new(capsys, table)
    assert code == 1
    assert "FAILED: S3NoSuchBucket" in str(summary["error"])


def test_a_table_without_point_in_time_recovery_is_told_how_to_enable_it(
    table: Table, bucket: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary = _new(capsys, table)
    assert code == 1
    assert "point-in-time recovery disabled" in str(summary["error"])
    assert "update-continuous-backups" in str(summary["error"])
