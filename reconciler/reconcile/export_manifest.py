"""What a DynamoDB export to S3 promises, checked before a single item of it is trusted.

An export is a directory ``AWSDynamoDB/<export-id>/`` holding ``manifest-summary.json`` (one
JSON object: the export time, the total item count, the output format...), ``manifest-files.json``
(one JSON object per line and data file: its item count, MD5, ETag and S3 key) and the gzip data
files under ``data/``. The summary is written when the export has finished, so its absence means
an export still running or one that failed. The checks here are pure: the shell reads the texts
and the digests of the files it found, and this module decides whether the export is whole.
"""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from reconciler.kernel.errors import ReconcilerError

SUMMARY_NAME = "manifest-summary.json"
FILES_NAME = "manifest-files.json"
DATA_DIRECTORY = "data"
SUPPORTED_FORMAT = "DYNAMODB_JSON"
FULL_EXPORT = "FULL_EXPORT"

_LISTED = 5
"""How many missing files an error names before it only counts the rest."""


class ExportError(ReconcilerError):
    """The export cannot be used; the message says what is wrong with it."""


class ExportIncompleteError(ExportError):
    """The export is partial, failed or still running: a manifest, or data files, are missing,
    or the files hold fewer items than the summary announces."""

    def __init__(self, missing: str) -> None:
        super().__init__(f"incomplete export: {missing}")
        self.missing = missing


class ExportFormatError(ExportError):
    """The export is whole but not one this reconciler reads (ION, an incremental export, a
    manifest without the fields every full export carries)."""


class ExportChecksumError(ExportError):
    """A data file's content differs from the MD5 the manifest gives for it."""


@dataclass(frozen=True, slots=True)
class ExportSummary:
    export_time: datetime
    """The instant of the snapshot: every item is as it was then."""
    item_count: int
    output_format: str
    export_arn: str | None = None
    export_type: str | None = None
    end_time: datetime | None = None


@dataclass(frozen=True, slots=True)
class DataFile:
    key: str
    """``dataFileS3Key``: the object key in the bucket, the export prefix included."""
    item_count: int
    md5: str | None = None
    """``md5Checksum`` as the manifest gives it (base64 or hexadecimal digest)."""
    etag: str | None = None

    @property
    def relative_path(self) -> str:
        """Where the file lies below the export directory (``data/<name>``), whatever prefix
        the bucket key carries."""
        return f"{DATA_DIRECTORY}/{self.key.rsplit('/', 1)[-1]}"


@dataclass(frozen=True, slots=True)
class Manifest:
    """A verified export: every listed file present and intact, counts adding up."""

    summary: ExportSummary
    files: tuple[DataFile, ...]


def _field(document: Mapping[str, Any], name: str, where: str) -> Any:
    value = document.get(name)
    if value is None:
        raise ExportFormatError(f"{where} has no {name}")
    return value


def _count(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        raise ExportFormatError(f"{where}: itemCount must be a non-negative integer")
    return value


def _instant(value: Any, where: str) -> datetime:
    try:
        return datetime.fromisoformat(str(value))
    except ValueError as exc:
        raise ExportFormatError(f"{where}: {value!r} is not an ISO 8601 time") from exc


def _json_object(text: str, where: str) -> Mapping[str, Any]:
    try:
        document = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ExportFormatError(f"{where} is not JSON: {exc.msg}") from exc
    if not isinstance(document, dict):
        raise ExportFormatError(f"{where} is not a JSON object")
    return document


def parse_summary(text: str | None) -> ExportSummary:
    """The summary manifest, or why the export cannot be read (``None``: no such file)."""
    if text is None:
        raise ExportIncompleteError(
            f"{SUMMARY_NAME} is missing (the export is still running, or failed)"
        )
    document = _json_object(text, SUMMARY_NAME)
    output_format = str(_field(document, "outputFormat", SUMMARY_NAME))
    if output_format != SUPPORTED_FORMAT:
        raise ExportFormatError(
            f"the export is in {output_format}; only {SUPPORTED_FORMAT} exports are read"
        )
    export_type = document.get("exportType")
    if export_type is not None and export_type != FULL_EXPORT:
        raise ExportFormatError(
            f"the export is a {export_type}; only a {FULL_EXPORT} holds every item"
        )
    end_time = document.get("endTime")
    return ExportSummary(
        export_time=_instant(_field(document, "exportTime", SUMMARY_NAME), SUMMARY_NAME),
        item_count=_count(_field(document, "itemCount", SUMMARY_NAME), SUMMARY_NAME),
        output_format=output_format,
        export_arn=document.get("exportArn"),
        export_type=export_type,
        end_time=None if end_time is None else _instant(end_time, SUMMARY_NAME),
    )


def parse_files(text: str | None) -> tuple[DataFile, ...]:
    """The files manifest, one JSON object per non-blank line."""
    if text is None:
        raise ExportIncompleteError(f"{FILES_NAME} is missing")
    files: list[DataFile] = []
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip():
            continue
        where = f"{FILES_NAME} line {number}"
        document = _json_object(line, where)
        files.append(
            DataFile(
                key=str(_field(document, "dataFileS3Key", where)),
                item_count=_count(_field(document, "itemCount", where), where),
                md5=document.get("md5Checksum"),
                etag=document.get("etag"),
            )
        )
    return tuple(files)


def md5_matches(expected: str, digest: bytes) -> bool:
    """Whether a manifest's MD5 (base64, as S3's Content-MD5, or hexadecimal) is ``digest``."""
    if expected.lower() == digest.hex():
        return True
    try:
        return base64.b64decode(expected, validate=True) == digest
    except (binascii.Error, ValueError):
        return False


def _named(paths: Sequence[str]) -> str:
    shown = ", ".join(paths[:_LISTED])
    more = len(paths) - _LISTED
    return shown if more <= 0 else f"{shown} and {more} more"


def verify_structure(summary: ExportSummary, files: Sequence[DataFile]) -> Manifest:
    """The checks that need no data file: the per-file counts add up to the summary's. An
    export read from S3 passes them before a byte of data is downloaded; each file's digest is
    then checked with :func:`check_digest` as it arrives."""
    listed = sum(f.item_count for f in files)
    if listed != summary.item_count:
        raise ExportIncompleteError(
            f"{FILES_NAME} lists {listed} items in {len(files)} file(s), "
            f"but {SUMMARY_NAME} announces {summary.item_count}"
        )
    return Manifest(summary, tuple(files))


def check_digest(data_file: DataFile, digest: bytes) -> None:
    """Refuse a data file whose content is not what the manifest's MD5 (when given) says."""
    if data_file.md5 is not None and not md5_matches(data_file.md5, digest):
        raise ExportChecksumError(
            f"{data_file.relative_path}: MD5 differs from the manifest's {data_file.md5}"
        )


def verify(
    summary: ExportSummary,
    files: Sequence[DataFile],
    digests: Mapping[str, bytes | None],
) -> Manifest:
    """Check a local export is whole: every listed file present (``digests`` maps each file's
    :attr:`DataFile.relative_path` to its MD5 digest, ``None`` or absent when the file is
    missing), the per-file counts adding up to the summary's, each given checksum matching.

    The counts are checked before the checksums: a missing file or a short manifest says
    "incomplete", which is what the operator must act on (wait, or export again).
    """
    missing = [f.relative_path for f in files if digests.get(f.relative_path) is None]
    if missing:
        raise ExportIncompleteError(f"{len(missing)} data file(s) missing: {_named(missing)}")
    manifest = verify_structure(summary, files)
    for data_file in files:
        check_digest(data_file, digests[data_file.relative_path] or b"")
    return manifest
