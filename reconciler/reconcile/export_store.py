"""Where export files are read from: S3 through boto3, or a local directory for locating.

DuckDB reads local files only here (its httpfs extension is not installable where the
reconciler runs, and boto3 already carries our endpoint, credentials and retry settings), so an
export in S3 is downloaded a file at a time. The store hashes each file as it streams to disk,
so the MD5 check costs no second read. S3's error codes become export errors that say what to
do: a missing key is an incomplete export, a missing bucket or a denied read is named as such.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from reconciler.kernel.aws import aws_call
from reconciler.kernel.errors import AwsError
from reconciler.reconcile.export_location import names_one_export
from reconciler.reconcile.export_manifest import (
    DATA_DIRECTORY,
    FILES_NAME,
    SUMMARY_NAME,
    ExportError,
    ExportIncompleteError,
)

_CHUNK = 1 << 20


class ExportAccessError(ExportError):
    """The export's bucket does not exist, or the reconciler may not read it."""


class ExportStore(Protocol):
    """The objects of one bucket (or directory), by key."""

    @property
    def root(self) -> str:
        """How the store's keys are named in messages (``s3://bucket/``, a directory)."""
        ...

    def read_text(self, key: str) -> str | None:
        """The object's text, ``None`` when there is no such key."""
        ...

    def keys(self, prefix: str) -> Iterator[str]:
        """Every key below ``prefix``."""
        ...

    def download(self, key: str, path: Path) -> bytes:
        """Write the object to ``path`` and return the MD5 digest of its bytes; raises
        :class:`ExportIncompleteError` when there is no such key."""
        ...


class S3ExportStore:
    """One bucket, read through an injected boto3 S3 client."""

    def __init__(self, client: Any, bucket: str) -> None:
        self._client = client
        self._bucket = bucket

    @property
    def root(self) -> str:
        return f"s3://{self._bucket}/"

    def read_text(self, key: str) -> str | None:
        try:
            body = self._get(key)
        except ExportIncompleteError:
            return None
        with self._call("GetObject", key):
            return body.read().decode("utf-8")  # type: ignore[no-any-return]

    def keys(self, prefix: str) -> Iterator[str]:
        paginator = self._client.get_paginator("list_objects_v2")
        with self._call("ListObjectsV2", prefix):
            for page in paginator.paginate(Bucket=self._bucket, Prefix=prefix):
                for entry in page.get("Contents", []):
                    yield str(entry["Key"])

    def download(self, key: str, path: Path) -> bytes:
        body = self._get(key)
        digest = hashlib.md5(usedforsecurity=False)
        with self._call("GetObject", key), path.open("wb") as stream:
            for chunk in body.iter_chunks(_CHUNK):
                digest.update(chunk)
                stream.write(chunk)
        return digest.digest()

    def _get(self, key: str) -> Any:
        with self._call("GetObject", key):
            return self._client.get_object(Bucket=self._bucket, Key=key)["Body"]

    def _call(self, operation: str, key: str) -> AbstractContextManager[None]:
        return _s3_call(operation, self._bucket, key)


@contextmanager
def _s3_call(operation: str, bucket: str, key: str) -> Iterator[None]:
    """``aws_call`` with S3's codes turned into what an operator must fix."""
    try:
        with aws_call(operation):
            yield
    except AwsError as error:
        where = f"s3://{bucket}/{key}"
        if error.code in ("NoSuchKey", "404", "NotFound"):
            raise ExportIncompleteError(f"{where} missing") from error
        if error.code == "NoSuchBucket":
            raise ExportAccessError(f"S3 bucket {bucket!r} does not exist") from error
        if error.code in ("AccessDenied", "403", "Forbidden", "AllAccessDisabled"):
            raise ExportAccessError(
                f"{operation} on {where} was denied: the reconciler needs "
                "s3:GetObject and s3:ListBucket on the export's prefix (see docs/export.md)"
            ) from error
        raise


def read_local_text(path: Path) -> str | None:
    """A local file's text, ``None`` when there is no such file (as a store reads a key)."""
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None


class LocalExportStore:
    """A local directory seen as a bucket (keys relative to it), to locate exports in it."""

    def __init__(self, directory: Path) -> None:
        self._directory = directory

    @property
    def root(self) -> str:
        return f"{self._directory}/"

    def read_text(self, key: str) -> str | None:
        return read_local_text(self._directory / key)

    def keys(self, prefix: str) -> Iterator[str]:
        base = self._directory / prefix
        for path in sorted(base.rglob("*")):
            if path.is_file():
                yield path.relative_to(self._directory).as_posix()

    def download(self, key: str, path: Path) -> bytes:
        source = self._directory / key
        digest = hashlib.md5(usedforsecurity=False)
        try:
            with source.open("rb") as reading, path.open("wb") as writing:
                while chunk := reading.read(_CHUNK):
                    digest.update(chunk)
                    writing.write(chunk)
        except FileNotFoundError as exc:
            raise ExportIncompleteError(f"{source} missing") from exc
        return digest.digest()


def is_local_export(directory: Path) -> bool:
    """Whether a local directory is one export (rather than a location holding several)."""
    if names_one_export(directory.resolve().as_posix()):
        return True
    return any((directory / name).exists() for name in (SUMMARY_NAME, FILES_NAME, DATA_DIRECTORY))


__all__ = [
    "ExportAccessError",
    "ExportStore",
    "LocalExportStore",
    "S3ExportStore",
    "is_local_export",
    "read_local_text",
]
