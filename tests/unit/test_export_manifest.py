"""The manifest checks on exports written in AWS's layout by the export writer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from reconciler.devtools.export_writer import ExportSpec, GeneratedExport, generate_export
from reconciler.kernel.errors import ReconcilerError
from reconciler.reconcile.export_duckdb import load_local_export
from reconciler.reconcile.export_manifest import (
    FILES_NAME,
    SUMMARY_NAME,
    DataFile,
    ExportChecksumError,
    ExportFormatError,
    ExportIncompleteError,
    check_digest,
    md5_matches,
    parse_files,
    parse_summary,
    verify_structure,
)

SPEC = ExportSpec(events=20, attendees_per_event=5, drift_percent=20, files=3, seed=7)


@pytest.fixture
def export(tmp_path: Path) -> GeneratedExport:
    return generate_export(tmp_path, SPEC)


def _edit_summary(export: GeneratedExport, **fields: object) -> None:
    path = export.directory / SUMMARY_NAME
    summary = json.loads(path.read_text())
    summary.update(fields)
    path.write_text(json.dumps(summary))


def test_a_complete_export_lists_every_data_file_and_its_items(export: GeneratedExport) -> None:
    manifest, paths = load_local_export(export.directory)
    assert manifest.summary.item_count == export.items == 20 * 6
    assert manifest.summary.export_time == export.export_time.replace(
        microsecond=export.export_time.microsecond // 1000 * 1000
    )
    assert len(paths) == 3
    assert all(Path(path).is_file() for path in paths)


def test_an_export_without_its_summary_is_incomplete(export: GeneratedExport) -> None:
    (export.directory / SUMMARY_NAME).unlink()
    with pytest.raises(ExportIncompleteError, match=SUMMARY_NAME):
        load_local_export(export.directory)


def test_an_export_without_its_files_manifest_is_incomplete(export: GeneratedExport) -> None:
    (export.directory / FILES_NAME).unlink()
    with pytest.raises(ExportIncompleteError, match=FILES_NAME):
        load_local_export(export.directory)


def test_a_missing_data_file_is_named(export: GeneratedExport) -> None:
    _, paths = load_local_export(export.directory)
    Path(paths[1]).unlink()
    with pytest.raises(ExportIncompleteError, match=Path(paths[1]).name) as raised:
        load_local_export(export.directory)
    assert isinstance(raised.value, ReconcilerError)


def test_files_that_hold_fewer_items_than_the_summary_announces_are_incomplete(
    export: GeneratedExport,
) -> None:
    _edit_summary(export, itemCount=export.items + 1)
    with pytest.raises(ExportIncompleteError, match=f"announces {export.items + 1}"):
        load_local_export(export.directory)


def test_a_data_file_whose_md5_differs_is_refused(export: GeneratedExport) -> None:
    _, paths = load_local_export(export.directory)
    Path(paths[0]).write_bytes(Path(paths[0]).read_bytes() + b"\0")
    with pytest.raises(ExportChecksumError, match=Path(paths[0]).name):
        load_local_export(export.directory)


def test_an_export_in_ion_is_refused(export: GeneratedExport) -> None:
    _edit_summary(export, outputFormat="ION")
    with pytest.raises(ExportFormatError, match="only DYNAMODB_JSON"):
        load_local_export(export.directory)


def test_an_incremental_export_is_refused() -> None:
    text = json.dumps(
        {
            "exportTime": "2026-01-01T00:00:00.000Z",
            "itemCount": 0,
            "outputFormat": "DYNAMODB_JSON",
            "exportType": "INCREMENTAL_EXPORT",
        }
    )
    with pytest.raises(ExportFormatError, match="INCREMENTAL_EXPORT"):
        parse_summary(text)


@pytest.mark.parametrize("missing", ["exportTime", "itemCount", "outputFormat"])
def test_a_summary_without_a_required_field_names_it(missing: str) -> None:
    summary = {
        "exportTime": "2026-01-01T00:00:00Z",
        "itemCount": 1,
        "outputFormat": "DYNAMODB_JSON",
    }
    del summary[missing]
    with pytest.raises(ExportFormatError, match=missing):
        parse_summary(json.dumps(summary))


def test_a_files_manifest_line_that_is_not_json_names_its_line() -> None:
    line = json.dumps({"itemCount": 1, "dataFileS3Key": "p/AWSDynamoDB/x/data/a.json.gz"})
    with pytest.raises(ExportFormatError, match="line 2"):
        parse_files(f"{line}\n{{oops\n")


def test_a_data_file_is_found_below_the_export_whatever_the_bucket_prefix() -> None:
    line = json.dumps({"itemCount": 3, "dataFileS3Key": "team/AWSDynamoDB/01-ab/data/f.json.gz"})
    (data_file,) = parse_files(line)
    assert (data_file.relative_path, data_file.item_count) == ("data/f.json.gz", 3)


def test_an_md5_is_accepted_in_base64_or_hexadecimal() -> None:
    digest = bytes(range(16))
    assert md5_matches("AAECAwQFBgcICQoLDA0ODw==", digest)
    assert md5_matches(digest.hex().upper(), digest)
    assert not md5_matches("AAECAwQFBgcICQoLDA0OEA==", digest)
    assert not md5_matches("not base64!", digest)


def test_a_data_file_without_an_md5_is_accepted_on_its_count(export: GeneratedExport) -> None:
    path = export.directory / FILES_NAME
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    for line in lines:
        del line["md5Checksum"]
    path.write_text("".join(json.dumps(line) + "\n" for line in lines))
    manifest, _ = load_local_export(export.directory)
    assert all(data_file.md5 is None for data_file in manifest.files)
    assert sum(data_file.item_count for data_file in manifest.files) == export.items


def test_the_structure_is_checked_without_any_data_file_and_each_digest_apart() -> None:
    document = {"exportTime": "2026-06-01T00:00:00Z", "itemCount": 3}
    summary = parse_summary(json.dumps({**document, "outputFormat": "DYNAMODB_JSON"}))
    files = (DataFile("AWSDynamoDB/x/data/a.json.gz", 2, md5="00" * 16), DataFile("k/b", 1))
    assert verify_structure(summary, files).files == files
    with pytest.raises(ExportIncompleteError, match="lists 2 items in 1 file"):
        verify_structure(summary, files[:1])
    check_digest(files[0], bytes(16))
    check_digest(files[1], b"anything: no md5 given")
    with pytest.raises(ExportChecksumError, match=r"data/a\.json\.gz: MD5 differs"):
        check_digest(files[0], b"\x01" * 16)
