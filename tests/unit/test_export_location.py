"""Where a pass finds its export: one export or a location of several, the newest complete one,
and S3's errors said as what to fix."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from botocore.exceptions import ClientError

from reconciler.reconcile.export_location import (
    NoExportFoundError,
    S3Location,
    export_directories,
    is_export,
    newest,
    parse_s3_uri,
)
from reconciler.reconcile.export_manifest import ExportIncompleteError
from reconciler.reconcile.export_store import ExportAccessError, S3ExportStore


def _summary(time: str, output_format: str = "DYNAMODB_JSON") -> str:
    return json.dumps({"exportTime": time, "itemCount": 1, "outputFormat": output_format})


def test_the_newest_complete_export_is_chosen_by_its_export_time() -> None:
    keys = [
        "x/AWSDynamoDB/b/manifest-summary.json",
        "x/AWSDynamoDB/a/manifest-summary.json",
        "x/AWSDynamoDB/c/data/f.json.gz",  # no summary: still running
        "x/AWSDynamoDB/d/manifest-summary.json",
    ]
    directories = export_directories(keys)
    assert directories == ["x/AWSDynamoDB/a/", "x/AWSDynamoDB/b/", "x/AWSDynamoDB/d/"]
    summaries = {
        "x/AWSDynamoDB/a/": _summary("2026-06-02T00:00:00Z"),
        "x/AWSDynamoDB/b/": _summary("2026-06-01T00:00:00Z"),
        "x/AWSDynamoDB/d/": _summary("2026-06-03T00:00:00Z", "ION"),  # not read: passed over
    }
    assert newest(summaries, "s3://b/x/")[0] == "x/AWSDynamoDB/a/"


def test_a_location_without_a_complete_export_says_where_it_looked() -> None:
    with pytest.raises(
        NoExportFoundError, match="no complete DYNAMODB_JSON export under s3://b/x/"
    ):
        newest({"x/AWSDynamoDB/a/": None}, "s3://b/x/")


def test_a_prefix_is_one_export_by_its_name_or_its_own_manifests() -> None:
    assert is_export("p/AWSDynamoDB/0123-ab/", [])
    assert is_export("p/", ["p/manifest-files.json"])
    assert is_export("p/", ["p/data/f.json.gz"])
    assert not is_export("p/", ["p/AWSDynamoDB/0123-ab/manifest-summary.json"])


def test_an_s3_uri_is_a_bucket_and_a_directory_prefix() -> None:
    assert parse_s3_uri("s3://bucket/a/b") == S3Location("bucket", "a/b/")
    assert parse_s3_uri("s3://bucket/").uri == "s3://bucket/"
    with pytest.raises(ValueError, match="not an S3 bucket name"):
        parse_s3_uri("s3://B/x")


class _Refusing:
    """An S3 client whose every GetObject fails with ``code``."""

    def __init__(self, code: str) -> None:
        self.code = code

    def get_object(self, **_: Any) -> Any:
        raise ClientError({"Error": {"Code": self.code, "Message": "no"}}, "GetObject")


@pytest.mark.parametrize(
    ("code", "error", "message"),
    [
        ("NoSuchKey", ExportIncompleteError, "s3://b/k/data/f.json.gz missing"),
        ("NoSuchBucket", ExportAccessError, "S3 bucket 'b' does not exist"),
        ("AccessDenied", ExportAccessError, "needs s3:GetObject and s3:ListBucket"),
    ],
)
def test_s3_errors_become_export_errors_that_say_what_to_fix(
    tmp_path: Path, code: str, error: type[Exception], message: str
) -> None:
    store = S3ExportStore(_Refusing(code), "b")
    with pytest.raises(error, match=message):
        store.download("k/data/f.json.gz", tmp_path / "f")


def test_a_missing_manifest_reads_as_none() -> None:
    assert S3ExportStore(_Refusing("NoSuchKey"), "b").read_text("k/manifest-summary.json") is None
