"""The ``--from-export`` location flags: an export's directory, a location, or ``new``.

Parsed with the other pass settings (:mod:`reconciler.reconcile.settings`), so every problem
is a :class:`ConfigError` at start-up; ``RECONCILER_EXPORT_BUCKET`` and the others come from the
settings engine like every flag.
"""

from __future__ import annotations

import argparse
import re
from pathlib import Path

from reconciler.kernel.errors import ConfigError
from reconciler.kernel.settings import Source
from reconciler.reconcile.export_location import (
    DEFAULT_EXPORT_TIMEOUT_SECONDS,
    ExportLocation,
    NewExport,
    parse_s3_uri,
    valid_bucket,
)

_NEW_EXPORT_FLAGS = (
    "--export-bucket",
    "--export-prefix",
    "--export-bucket-owner",
    "--export-timeout",
)
_ACCOUNT = re.compile(r"^\d{12}$")


def add_new_export_arguments(group: argparse._ArgumentGroup) -> None:
    group.add_argument(
        "--export-bucket",
        metavar="BUCKET",
        help="with --from-export new: the S3 bucket DynamoDB writes the export to",
    )
    group.add_argument(
        "--export-prefix", metavar="PREFIX", help="with --from-export new: the key prefix"
    )
    group.add_argument(
        "--export-bucket-owner",
        metavar="ACCOUNT",
        help="with --from-export new: the bucket owner's account id (a bucket of another account)",
    )
    group.add_argument(
        "--export-timeout",
        metavar="DURATION",
        help="with --from-export new: fail the pass if the export is not complete after this "
        f"long (default {DEFAULT_EXPORT_TIMEOUT_SECONDS / 3600:g}h; the export keeps running)",
    )


def parse_export_location(source: Source, label: str, text: str) -> ExportLocation:
    if text == "new":
        return _new_export(source)
    refuse_new_export_flags(source)
    if text.startswith("s3://"):
        try:
            return parse_s3_uri(text)
        except ValueError as exc:
            raise ConfigError(label, f"{exc}: {text!r}") from exc
    if "://" in text:
        raise ConfigError(label, f"must be a local directory, s3://bucket/prefix or new: {text!r}")
    path = Path(text).expanduser()
    if not path.is_dir():
        raise ConfigError(label, f"is not a directory: {str(path)!r}")
    return path


def refuse_new_export_flags(source: Source) -> None:
    for flag in _NEW_EXPORT_FLAGS:
        other, value = source.raw(flag)
        if value is not None:
            raise ConfigError(other, "only applies with --from-export new")


def _new_export(source: Source) -> NewExport:
    label, raw = source.raw("--export-bucket")
    bucket = "" if raw is None else str(raw).strip()
    if not bucket:
        raise ConfigError(label, "is required with --from-export new (where DynamoDB writes it)")
    if not valid_bucket(bucket):
        raise ConfigError(label, f"is not an S3 bucket name: {bucket!r}")
    prefix = (source.string("--export-prefix") or "").strip().strip("/") or None
    owner_label, owner_raw = source.raw("--export-bucket-owner")
    owner = None if owner_raw is None else str(owner_raw).strip()
    if owner is not None and not _ACCOUNT.match(owner):
        raise ConfigError(owner_label, f"must be a 12-digit AWS account id, got {owner_raw!r}")
    return NewExport(
        bucket=bucket,
        prefix=prefix,
        bucket_owner=owner,
        timeout_seconds=source.duration(
            "--export-timeout", DEFAULT_EXPORT_TIMEOUT_SECONDS, minimum=1.0
        ),
    )
