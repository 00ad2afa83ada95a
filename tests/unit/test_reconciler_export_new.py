"""``--from-export new`` on fakes: the pass requests an export, waits for it, downloads it a
batch at a time, and confirms its suspects live; and how the wait ends when the export does not."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from reconciler.devtools.export_writer import Item, write_items
from reconciler.kernel.model import TableModel
from reconciler.reconcile.export_fetch import StoredExport
from reconciler.reconcile.export_location import NewExport
from reconciler.reconcile.export_manifest import SUMMARY_NAME, ExportFormatError
from reconciler.reconcile.export_request import (
    COMPLETED,
    FAILED,
    ExportFailedError,
    ExportTimeoutError,
    await_export,
    client_token,
    requested,
)
from reconciler.reconcile.export_sweep import ExportSweep
from reconciler.reconcile.pass_control import PassControl, PassStoppedError
from reconciler.reconcile.pass_state import PassState
from reconciler.reconcile.reconciler import PassOptions, Reconciler
from reconciler.reconcile.scan_core import SweepMode
from reconciler.reconcile.summary import PassSummary
from tests.fakes.export import FakeExportService, InMemoryExportStore
from tests.fakes.progress import RecordingProgress
from tests.fakes.reconcile import FakeClock, FakeReconcileTable, RecordingAuditSink
from tests.unit.reconciler_support import NO_BRAKE, SETTLE, WALL

SPEC = NewExport("exports-bucket", "nightly")
PREFIX = "nightly/AWSDynamoDB/"


def _items(table: FakeReconcileTable) -> list[Item]:
    """The fake table as an export holds it (DynamoDB JSON)."""
    items: list[Item] = []
    for key, event in table.events_by_key.items():
        item: Item = {"pk": {"S": key.partition}, "sk": {"S": key.sort_key}}
        item["attendeeCount"] = {"N": str(event.count)}
        item["counterVersion"] = {"N": str(event.version)}
        items.append(item)
    for slug, count in table.attendees.items():
        items += [{"pk": {"S": f"{slug}#ATTENDEE"}, "sk": {"S": f"a{n}"}} for n in range(count)]
    return items


def _exported(table: FakeReconcileTable, tmp_path: Path) -> tuple[InMemoryExportStore, str]:
    """The table exported 30 s before the pass's wall time into an in-memory bucket."""
    directory, _, _ = write_items(
        tmp_path / "written",
        _items(table),
        model=TableModel(),
        files=3,
        export_time=WALL - timedelta(seconds=30),
    )
    store = InMemoryExportStore()
    store.put_directory(directory, f"{PREFIX}{directory.name}/")
    return store, directory.name


def test_a_pass_requests_an_export_waits_for_it_and_corrects_only_agreeing_suspects(
    tmp_path: Path,
) -> None:
    table = FakeReconcileTable()
    table.add_event("gala", 3)
    table.add_event("expo", 5, attendees=2)
    late = table.add_event("late", 0, attendees=2)
    store, export_id = _exported(table, tmp_path)
    # After the export: two registrations on "late", applied by the handler (version moves).
    table.attendees["late"] += 2
    table.handler_add(late, 2)
    service = FakeExportService(f"{PREFIX}{export_id}/{SUMMARY_NAME}", polls=3)
    clock = FakeClock()
    temp = tmp_path / "downloads"
    temp.mkdir()
    source = StoredExport(
        store,
        requested(service, SPEC, clock=clock, sleep=clock.sleep),
        TableModel(),
        batch_files=1,
        temp_root=temp,
    )
    audit = RecordingAuditSink()
    reconciler = Reconciler(
        events=table,
        table=table,
        audit=audit,
        options=PassOptions(SETTLE, 2, NO_BRAKE, False, None, None, SweepMode.QUERY),
        clock=clock,
        sleep=clock.sleep,
        wall=lambda: WALL,
        export=ExportSweep(source, clock=clock, wall=lambda: WALL, watch=source.watch),
        key_audit=audit,
    )
    progress = RecordingProgress()
    summary = reconciler.run_pass(run_id="20261130T180000Z-0badcafe", progress=progress)
    assert service.requests == [("reconciler-20261130T180000Z-0badcafe", SPEC)]
    assert service.described == 3
    statuses = [args[1] for args in progress.args("export_waiting")]
    assert (statuses[0], statuses[-1]) == ("IN_PROGRESS", COMPLETED)
    assert progress.names()[:2] == ["export_waiting", "sweep_started"]
    assert sorted(store.downloads) == sorted(key for key in store.objects if "/data/" in key)
    assert list(temp.iterdir()) == []  # every batch deleted once scanned
    assert {c.key.slug: c.counted for c in table.writes} == {"expo": 2}
    assert table.count_of(late) == 2  # moved after the export: in flux, never corrected
    assert (summary.export or {})["id"] == export_id
    assert (summary.corrected, summary.in_flux, summary.in_sync) == (1, 1, 1)


def test_a_second_pass_on_the_same_export_says_so_and_confirms_nothing(tmp_path: Path) -> None:
    table = FakeReconcileTable()
    table.add_event("expo", 5, attendees=2)
    store, export_id = _exported(table, tmp_path)
    source = StoredExport(store, lambda _state: f"{PREFIX}{export_id}/", TableModel())
    clock = FakeClock()
    sweep = ExportSweep(source, clock=clock, wall=lambda: WALL)
    reconciler = Reconciler(
        events=table,
        table=table,
        audit=RecordingAuditSink(),
        options=PassOptions(SETTLE, 2, NO_BRAKE, True, None, None, SweepMode.QUERY),
        clock=clock,
        sleep=clock.sleep,
        wall=lambda: WALL,
        export=sweep,
    )
    first: PassSummary = reconciler.run_pass()
    second: PassSummary = reconciler.run_pass()
    assert (first.events_checked, first.confirmed) == (1, 1)
    assert (second.events_checked, second.confirmed) == (0, 0)
    assert (second.export or {}).get("unchanged") is True
    assert not second.failed


def _await(service: FakeExportService, spec: NewExport = SPEC, state: PassState | None = None):  # type: ignore[no-untyped-def]
    clock = FakeClock()
    return clock, lambda: await_export(service, spec, state, clock=clock, sleep=clock.sleep)


def test_a_failed_export_reports_aws_failure_code_and_message() -> None:
    service = FakeExportService(None, outcome=FAILED, failure=("S3NoSuchBucket", "no bucket"))
    _, wait = _await(service)
    with pytest.raises(ExportFailedError, match=r"export arn:.*/export/.* FAILED: S3NoSuchBucket"):
        wait()


def test_an_export_not_done_in_time_is_named_and_said_to_keep_running() -> None:
    service = FakeExportService(None, polls=10**9)
    clock, wait = _await(service, NewExport("exports-bucket", timeout_seconds=60.0))
    with pytest.raises(ExportTimeoutError, match=r"export/01700000000000-feedbeef.*keeps running"):
        wait()
    assert clock.now == 1060.0
    assert service.described == 7  # after 1, 2, 4, 8, 15, 15 s; then 15 s more hits 60


def test_a_stop_request_interrupts_the_wait() -> None:
    state = PassState(PassSummary("r"), PassControl(should_stop=lambda: True), "r")
    _, wait = _await(FakeExportService(None, polls=10**9), state=state)
    with pytest.raises(PassStoppedError):
        wait()


def test_a_completed_export_without_aws_manifest_is_refused_as_another_layout() -> None:
    _, wait = _await(FakeExportService(None, polls=1))
    with pytest.raises(ExportFormatError, match="not in AWS's export layout"):
        wait()


def test_a_retried_request_of_one_pass_carries_the_same_client_token() -> None:
    assert client_token("20261130T180000Z-0badcafe") == client_token("20261130T180000Z-0badcafe")
    assert client_token("20261130T180000Z-0badcafe") != client_token("20261130T180500Z-0badcafe")
