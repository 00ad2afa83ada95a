"""The reconciler's export mode: ``serve --from-export new`` into the StatefulStack's bucket.

With ``-c reconcilerFromExport=new`` each scheduled pass asks DynamoDB for a point-in-time export
of the table into ``<bucket>/<prefix>/`` (``-c exportPrefix``, default ``exports``) and counts it
with DuckDB instead of reading the table through its capacity. The task then needs the image's
``export`` extra (the Dockerfile's default), more memory than a live pass (DuckDB's own budget
is 512 MB), a schedule longer than an export takes, and a handful of grants confined to the
table's exports and to the prefix. Without the context value nothing here is used.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from aws_cdk import aws_iam as iam
from aws_cdk import aws_s3 as s3

from reconciler.kernel.errors import ConfigError

RECONCILER_FROM_EXPORT_CONTEXT = "reconcilerFromExport"
EXPORT_PREFIX_CONTEXT = "exportPrefix"
DEFAULT_EXPORT_PREFIX = "exports"
"""Shared with the Spark engine's Glue job: the exports the reconciler requests are the ones
that job reads."""

EXPORT_EVERY = "1h"
"""A pass lasts at least an export (minutes, tens of minutes for a large table), and every pass
pays for one: the five-minute default of a live pass would export the table twelve times an
hour."""
EXPORT_TIMEOUT = "50m"
"""Below the interval, so a stuck export fails its pass before the next slot is due."""
EXPORT_CPU = 1024
EXPORT_MEMORY_MIB = 2048
"""DuckDB's 512 MB budget, the interpreter and the download batches, with room to spare."""
EXPORT_WORKING_DIRECTORY = "/tmp"  # noqa: S108 - the task's own volume, not a shared host /tmp
"""DuckDB spills past its budget to ``.tmp`` in the working directory; the root file system is
read-only, and /tmp is the task's writable volume (where the download batches go too)."""

_PREFIX = re.compile(r"[A-Za-z0-9_.-]+(/[A-Za-z0-9_.-]+)*")
"""No ``*`` or ``?``: the prefix goes into IAM resources and conditions, where they match
anything."""


@dataclass(frozen=True, slots=True)
class ExportMode:
    """Where the service's exports go: a key prefix in the StatefulStack's bucket.

    The stack imports the bucket by its export name (``BucketName``) rather than by a CDK
    cross-stack reference: a reference would add an export to the StatefulStack only while the
    mode is on, and turning the mode off would then fail to deploy the StatefulStack, whose
    export the ReconcilerStack still imports.
    """

    prefix: str = DEFAULT_EXPORT_PREFIX

    def task_size(self, cpu: int, memory_mib: int) -> tuple[int, int]:
        """The task's CPU units and memory, raised to what a pass over an export needs."""
        return max(cpu, EXPORT_CPU), max(memory_mib, EXPORT_MEMORY_MIB)

    def environment(self, bucket: s3.IBucket) -> dict[str, str]:
        """The settings of ``serve --from-export new`` as the task's environment."""
        return {
            "RECONCILER_FROM_EXPORT": "new",
            "RECONCILER_EXPORT_BUCKET": bucket.bucket_name,
            "RECONCILER_EXPORT_PREFIX": self.prefix,
            "RECONCILER_EXPORT_TIMEOUT": EXPORT_TIMEOUT,
            "RECONCILER_EVERY": EXPORT_EVERY,
        }

    def statements(self, bucket: s3.IBucket, table_arn: str) -> list[iam.PolicyStatement]:
        """Request and follow an export of this table; write and read it under the prefix.

        DynamoDB writes the export's objects with the caller's permissions, so the role itself
        needs the writes. The bucket is S3-managed (SSE-S3): no KMS key to be granted; a
        customer managed key would need kms:GenerateDataKey and kms:Decrypt on it here.
        """
        objects = bucket.arn_for_objects(f"{self.prefix}/*")
        return [
            iam.PolicyStatement(
                sid="RequestTableExport",
                actions=["dynamodb:ExportTableToPointInTime"],
                resources=[table_arn],
            ),
            iam.PolicyStatement(
                sid="FollowTableExport",
                actions=["dynamodb:DescribeExport"],
                resources=[f"{table_arn}/export/*"],
            ),
            iam.PolicyStatement(
                sid="WriteAndReadExports",
                actions=["s3:PutObject", "s3:AbortMultipartUpload", "s3:GetObject"],
                resources=[objects],
            ),
            # Listing under the prefix only: what reading a location of several exports needs
            # (``--from-export s3://BUCKET/PREFIX/``), for a run by hand with the task's role.
            iam.PolicyStatement(
                sid="ListExports",
                actions=["s3:ListBucket"],
                resources=[bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{self.prefix}/*"]}},
            ),
        ]


def export_mode(context: Callable[[str], object]) -> ExportMode | None:
    """The export mode the CDK context asks for, or None (the service reads the table live).

    Raises :class:`ConfigError` naming the context key for any value but ``new`` (a fixed export
    would be read again by every pass) or a prefix S3 keys cannot safely carry.
    """
    wanted = _text(context(RECONCILER_FROM_EXPORT_CONTEXT))
    if not wanted:
        return None
    if wanted != "new":
        raise ConfigError(
            f"context {RECONCILER_FROM_EXPORT_CONTEXT}",
            f"must be new (a fresh export into the app's bucket each pass), not {wanted!r}",
        )
    return ExportMode(prefix=export_prefix(context))


def export_prefix(context: Callable[[str], object]) -> str:
    """The bucket's key prefix of the exports (``-c exportPrefix``), shared by the service's
    export mode and the Glue job of ``--engine spark``."""
    prefix = _text(context(EXPORT_PREFIX_CONTEXT)).strip("/") or DEFAULT_EXPORT_PREFIX
    if not _PREFIX.fullmatch(prefix):
        raise ConfigError(
            f"context {EXPORT_PREFIX_CONTEXT}",
            f"{prefix!r} is not a key prefix (letters, digits, _.- and / between parts)",
        )
    return prefix


def _text(value: object) -> str:
    return "" if value is None else str(value).strip()
