"""An export read from a store (S3) by DuckDB, a batch of files at a time, on bounded disk.

Both manifests are read and checked first, so a partial export is refused before a byte of
data is downloaded. The data files then come down a few at a time into a private temporary
directory: while DuckDB scans one batch, a background thread downloads the next, and a batch is
deleted once scanned, so the disk holds at most two batches whatever the export's size. Each
file's MD5 is computed as it streams in and checked against the manifest before DuckDB sees the
file. Which export is read is decided anew each pass by a ``locate`` function: a fixed one, the
newest in a location, or one requested from DynamoDB for this pass.
"""

from __future__ import annotations

import shutil
import tempfile
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path

from reconciler.kernel.logs import get_logger
from reconciler.kernel.model import TableModel
from reconciler.reconcile.export_core import SnapshotRows
from reconciler.reconcile.export_duckdb import DuckDbExportReader, LocalDuckDbExport
from reconciler.reconcile.export_location import (
    export_directories,
    export_id_of,
    is_export,
    names_one_export,
    newest,
)
from reconciler.reconcile.export_manifest import (
    FILES_NAME,
    SUMMARY_NAME,
    DataFile,
    Manifest,
    check_digest,
    parse_files,
    parse_summary,
    verify_structure,
)
from reconciler.reconcile.export_store import ExportStore, LocalExportStore
from reconciler.reconcile.pass_control import PassStoppedError
from reconciler.reconcile.pass_state import PassState

DEFAULT_BATCH_FILES = 4
"""Data files per batch: AWS writes files of up to a few hundred MB, so two batches on disk
stay within a few GB, and a batch gives DuckDB's threads a file each."""

Locate = Callable[[PassState | None], str]
"""Picks the export directory (a key prefix ending in ``/``) a pass reads."""


def locate_newest(store: ExportStore, prefix: str) -> str:
    """``prefix`` itself when it is an export, else the newest complete export below it."""
    if names_one_export(prefix):
        return prefix  # an export's own directory: not listed (it may hold thousands of files)
    keys = list(store.keys(prefix))
    if is_export(prefix, keys):
        return prefix
    summaries = {d: store.read_text(d + SUMMARY_NAME) for d in export_directories(keys)}
    directory, summary = newest(summaries, store.root + prefix)
    get_logger(__name__).info(
        "export_chosen",
        export_id=export_id_of(directory),
        export_time=summary.export_time.isoformat(),
        candidates=len(summaries),
    )
    return directory


def fixed(directory: str) -> Locate:
    return lambda _state: directory


def newest_in(store: ExportStore, prefix: str) -> Locate:
    return lambda _state: locate_newest(store, prefix)


class LocatedExport:
    """An export a store holds, chosen anew each pass by ``locate``: what every engine reading
    a store shares."""

    def __init__(
        self,
        store: ExportStore,
        locate: Locate,
        model: TableModel,
        *,
        temp_root: Path | None = None,
        event: str | None = None,
    ) -> None:
        self._store = store
        self._locate = locate
        self._model = model
        self._temp_root = temp_root
        self._event = event
        self._state: PassState | None = None
        self._directory = ""

    @property
    def export_id(self) -> str:
        return export_id_of(self._store.root + self._directory)

    def watch(self, state: PassState) -> None:
        """The pass about to open this source: its progress, stop requests and run id."""
        self._state = state

    def _located(self) -> str:
        """This pass's export directory (a key prefix ending in ``/``)."""
        self._directory = self._locate(self._state)
        return self._directory


class StoredExport(LocatedExport):
    """The snapshot source of an export in S3 (or any :class:`ExportStore`) read by DuckDB."""

    def __init__(
        self,
        store: ExportStore,
        locate: Locate,
        model: TableModel,
        *,
        batch_files: int = DEFAULT_BATCH_FILES,
        temp_root: Path | None = None,
        event: str | None = None,
    ) -> None:
        super().__init__(store, locate, model, temp_root=temp_root, event=event)
        self._batch_files = max(1, batch_files)

    def open(self) -> tuple[Manifest, SnapshotRows]:
        directory = self._located()
        summary = parse_summary(self._store.read_text(directory + SUMMARY_NAME))
        files = parse_files(self._store.read_text(directory + FILES_NAME))
        manifest = verify_structure(summary, files)
        reader = DuckDbExportReader(self._model, event=self._event)
        return manifest, reader.snapshot_batches(self._batches(directory, manifest), manifest)

    def _batches(self, directory: str, manifest: Manifest) -> Iterator[Sequence[str]]:
        files = manifest.files
        groups = [files[i : i + self._batch_files] for i in range(0, len(files), self._batch_files)]
        with (
            tempfile.TemporaryDirectory(prefix="reconciler-export-", dir=self._temp_root) as temp,
            ThreadPoolExecutor(max_workers=1, thread_name_prefix="export-fetch") as pool,
        ):
            pending: Future[list[str]] | None = None
            for index, group in enumerate(groups):
                if pending is None:
                    pending = pool.submit(self._fetch, directory, group, Path(temp) / str(index))
                paths = pending.result()
                pending = None
                if index + 1 < len(groups):
                    target = Path(temp) / str(index + 1)
                    pending = pool.submit(self._fetch, directory, groups[index + 1], target)
                try:
                    yield paths
                finally:
                    shutil.rmtree(Path(temp) / str(index), ignore_errors=True)
            if pending is not None:
                pending.cancel()

    def _fetch(self, directory: str, group: Sequence[DataFile], target: Path) -> list[str]:
        target.mkdir()
        paths = []
        for data_file in group:
            if self._state is not None and self._state.control.should_stop():
                raise PassStoppedError
            path = target / data_file.relative_path.rsplit("/", 1)[-1]
            check_digest(data_file, self._store.download(directory + data_file.relative_path, path))
            paths.append(str(path))
        return paths


class NewestLocalExport:
    """A local directory holding several exports: each pass reads the newest in place."""

    def __init__(self, directory: Path, model: TableModel, event: str | None = None) -> None:
        self._directory = directory
        self._model = model
        self._event = event
        self._current: LocalDuckDbExport | None = None

    @property
    def export_id(self) -> str:
        return "" if self._current is None else self._current.export_id

    def open(self) -> tuple[Manifest, SnapshotRows]:
        chosen = locate_newest(LocalExportStore(self._directory), "")
        self._current = LocalDuckDbExport(self._directory / chosen, self._model, self._event)
        return self._current.open()


__all__ = [
    "DEFAULT_BATCH_FILES",
    "Locate",
    "LocatedExport",
    "NewestLocalExport",
    "StoredExport",
    "fixed",
    "locate_newest",
    "newest_in",
]
