"""Where a pass finds its export: one export, a location holding several, or a fresh one.

``--from-export`` names a local directory, an ``s3://bucket/prefix`` or ``new``. A directory
or prefix is either an export itself (``.../AWSDynamoDB/<export-id>``, or one holding the
manifests) or a location that exports were written to (DynamoDB writes each under
``<prefix>/AWSDynamoDB/<export-id>/``): then each pass reads the newest complete export there.
The decisions are pure; the shells list the keys and read the summaries.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path

from reconciler.reconcile.export_manifest import (
    DATA_DIRECTORY,
    FILES_NAME,
    SUMMARY_NAME,
    ExportError,
    ExportSummary,
    parse_summary,
)

EXPORT_ROOT = "AWSDynamoDB"
DEFAULT_EXPORT_TIMEOUT_SECONDS = 2 * 3600.0
"""A full export of a large table takes tens of minutes; two hours leaves room."""
DEFAULT_EXPORT_POLL_SECONDS = 15.0
"""DescribeExport is cheap, but an export takes minutes at the very least."""

_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")


class NoExportFoundError(ExportError):
    """The location holds no complete export (none written yet, or all still running)."""


@dataclass(frozen=True, slots=True)
class S3Location:
    bucket: str
    prefix: str
    """A key prefix ending in ``/``, or empty (the whole bucket)."""

    @property
    def uri(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


@dataclass(frozen=True, slots=True)
class NewExport:
    """``--from-export new``: each pass asks DynamoDB for an export into this bucket."""

    bucket: str
    prefix: str | None = None
    bucket_owner: str | None = None
    timeout_seconds: float = DEFAULT_EXPORT_TIMEOUT_SECONDS
    poll_seconds: float = DEFAULT_EXPORT_POLL_SECONDS


ExportLocation = Path | S3Location | NewExport


def valid_bucket(name: str) -> bool:
    return bool(_BUCKET.match(name)) and ".." not in name


def parse_s3_uri(text: str) -> S3Location:
    """``s3://bucket[/prefix]``; the prefix is taken as a directory (a ``/`` is added)."""
    if not text.startswith("s3://"):
        raise ValueError("must start with s3://")
    bucket, _, prefix = text[len("s3://") :].partition("/")
    if not valid_bucket(bucket):
        raise ValueError(f"{bucket!r} is not an S3 bucket name")
    prefix = prefix.strip("/")
    return S3Location(bucket, f"{prefix}/" if prefix else "")


def names_one_export(prefix: str) -> bool:
    """Whether a path or prefix ends in ``AWSDynamoDB/<export-id>``: one export, not a
    location of several."""
    parts = [part for part in prefix.strip("/").split("/") if part]
    return len(parts) >= 2 and parts[-2] == EXPORT_ROOT


def is_export(prefix: str, keys: Iterable[str]) -> bool:
    """Whether ``prefix`` (ending in ``/`` or empty) is an export itself, given the keys below
    it: the export's directory name, or a manifest or a data file directly in it."""
    if names_one_export(prefix):
        return True
    own = {prefix + SUMMARY_NAME, prefix + FILES_NAME}
    data = prefix + DATA_DIRECTORY + "/"
    return any(key in own or key.startswith(data) for key in keys)


def export_directories(keys: Iterable[str]) -> list[str]:
    """The export directories (``.../AWSDynamoDB/<id>/``) whose summary is among ``keys``:
    an export without one is still being written, or failed."""
    found = []
    for key in keys:
        parts = key.split("/")
        if len(parts) >= 3 and parts[-1] == SUMMARY_NAME and parts[-3] == EXPORT_ROOT:
            found.append(key[: -len(SUMMARY_NAME)])
    return sorted(found)


def newest(summaries: Mapping[str, str | None], where: str) -> tuple[str, ExportSummary]:
    """The directory whose summary has the latest export time. Summaries that cannot be read
    (gone since the listing, another format) are passed over: a location may hold exports the
    reconciler does not read, and the newest readable one is still a consistent snapshot."""
    readable: list[tuple[str, ExportSummary]] = []
    for directory, text in summaries.items():
        if text is None:
            continue
        try:
            readable.append((directory, parse_summary(text)))
        except ExportError:
            continue
    if not readable:
        raise NoExportFoundError(
            f"no complete DYNAMODB_JSON export under {where} "
            f"(looked for {EXPORT_ROOT}/<export-id>/{SUMMARY_NAME})"
        )
    return max(readable, key=lambda pair: (pair[1].export_time, pair[0]))


def export_id_of(directory: str) -> str:
    """The export's id: the last part of its directory (``.../AWSDynamoDB/<id>/``)."""
    return [part for part in directory.split("/") if part][-1]


def directory_of(manifest_key: str) -> str:
    """The export directory of its summary's key, as DescribeExport's ``ExportManifest``."""
    return manifest_key[: manifest_key.rfind("/") + 1]


__all__ = [
    "EXPORT_ROOT",
    "ExportLocation",
    "NewExport",
    "NoExportFoundError",
    "S3Location",
    "directory_of",
    "export_directories",
    "export_id_of",
    "is_export",
    "names_one_export",
    "newest",
    "parse_s3_uri",
]
