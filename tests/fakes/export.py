"""In-memory fakes of the export ports: DynamoDB's export API and the bucket it writes to."""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

from reconciler.reconcile.export_location import NewExport
from reconciler.reconcile.export_manifest import ExportIncompleteError
from reconciler.reconcile.export_request import COMPLETED, IN_PROGRESS, ExportDescription


@dataclass
class InMemoryExportStore:
    """A bucket as a dict of key to bytes; ``downloads`` lists every key fetched, in order."""

    objects: dict[str, bytes] = field(default_factory=dict)
    downloads: list[str] = field(default_factory=list)

    @property
    def root(self) -> str:
        return "memory://"

    def read_text(self, key: str) -> str | None:
        data = self.objects.get(key)
        return None if data is None else data.decode("utf-8")

    def keys(self, prefix: str) -> Iterator[str]:
        yield from sorted(key for key in self.objects if key.startswith(prefix))

    def download(self, key: str, path: Path) -> bytes:
        if key not in self.objects:
            raise ExportIncompleteError(f"{key} missing")
        self.downloads.append(key)
        path.write_bytes(self.objects[key])
        return hashlib.md5(self.objects[key], usedforsecurity=False).digest()

    def put_directory(self, directory: Path, prefix: str) -> None:
        """A local export's files under ``prefix`` (as DynamoDB writes them)."""
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                self.objects[prefix + path.relative_to(directory).as_posix()] = path.read_bytes()


@dataclass
class FakeExportService:
    """An export that is IN_PROGRESS for ``polls`` DescribeExport calls, then ``outcome``;
    ``manifest_key`` is what a COMPLETED export's ExportManifest names."""

    manifest_key: str | None
    polls: int = 2
    outcome: str = COMPLETED
    failure: tuple[str | None, str | None] = (None, None)
    requests: list[tuple[str, NewExport]] = field(default_factory=list)
    described: int = 0
    arn: str = "arn:aws:dynamodb:eu-west-1:123456789012:table/t/export/01700000000000-feedbeef"

    def request(self, client_token: str, spec: NewExport) -> ExportDescription:
        self.requests.append((client_token, spec))
        return ExportDescription(self.arn, IN_PROGRESS, spec.bucket)

    def describe(self, arn: str) -> ExportDescription:
        self.described += 1
        if self.described < self.polls:
            return ExportDescription(arn, IN_PROGRESS)
        code, message = self.failure
        return ExportDescription(arn, self.outcome, None, self.manifest_key, code, message)
