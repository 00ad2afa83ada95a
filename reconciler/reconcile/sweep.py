"""Which events a pass looks at, and how: the query sweep or the scan sweep (``--sweep``).

The query sweep lists the event partitions and gives every event a first look (a consistent
read of its counter, then a ``Query COUNT`` of its attendees): two requests per event. The
scan sweep reads the whole table once first, a parallel ``Scan`` with one worker per segment
(``--concurrency`` segments), folds it into a count per slug
(:mod:`reconciler.reconcile.scan_core`) and hands the pass only the events it did not find in
sync; those get the same first look as in the query sweep, so the race-safety argument is
untouched (the scan module explains why the scan cannot itself be the first look).

``auto`` decides by the table's shape without reading its items; ``--event`` and ``--shard``
always take the query sweep, since a scan would read every event to check some.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator

from reconciler.kernel.logs import get_logger
from reconciler.reconcile.core import Shard, in_shard
from reconciler.reconcile.fanout import fan_out
from reconciler.reconcile.pass_control import EventNotFoundError, PassOptions, PassStoppedError
from reconciler.reconcile.ports import EventGroup, EventSource, TableScan
from reconciler.reconcile.progress import NO_PROGRESS, PassProgress
from reconciler.reconcile.rotation import RotatingSweep
from reconciler.reconcile.scan_core import (
    ScannedEvent,
    ScanTally,
    SweepChoice,
    SweepMode,
    TableShape,
    choose_by_shape,
    events_needed,
    forced_query,
    scanned_events,
)

NO_SCANNER = SweepChoice(SweepMode.QUERY, "no scan adapter")


def choose_sweep(
    requested: SweepMode, scanner: TableScan | None, *, event: str | None, shard: Shard | None
) -> SweepChoice:
    """The sweep of one pass; logged as ``sweep_chosen`` with the figures it was based on."""
    choice = forced_query(requested, event=event is not None, shard=shard is not None)
    if choice is None:
        choice = NO_SCANNER if scanner is None else choose_by_shape(table_shape(scanner))
    elif choice.mode is SweepMode.SCAN and scanner is None:
        choice = NO_SCANNER
    figures = choice.shape.figures() if choice.shape is not None else {}
    get_logger(__name__).info(
        "sweep_chosen",
        mode=choice.mode.value,
        requested=requested.value,
        reason=choice.reason,
        **figures,
    )
    return choice


def table_shape(scanner: TableScan) -> TableShape:
    item_count, size = scanner.describe()
    return TableShape(item_count, size, scanner.count_events(events_needed(item_count)))


def query_groups(
    events: EventSource, *, event: str | None, shard: Shard | None
) -> Iterator[EventGroup]:
    """The query sweep's events: one, or every one of the shard, streamed from the listing."""
    if event is not None:
        group = events.event(event)
        if group is None:
            raise EventNotFoundError(f"no event item for slug {event!r}")
        yield group
        return
    for group in events.events():
        if in_shard(group.slug, shard):
            yield group


def scan_table(scanner: TableScan, segments: int, should_stop: Callable[[], bool]) -> ScanTally:
    """Every segment on its own worker, folded apart and merged in the calling thread;
    ``should_stop`` is honoured between pages."""
    total = ScanTally()

    def work(segment: int) -> ScanTally:
        mine = ScanTally()
        for page in scanner.segment(segment, segments):
            mine.fold(page)
            if should_stop():
                raise PassStoppedError
        return mine

    fan_out(range(segments), work, total.merge, limit=segments, name="reconcile-scan")
    return total


ROTATING = SweepChoice(SweepMode.QUERY, "the rotating sweep walks the listing")


def sweep_groups(
    events: EventSource,
    scanner: TableScan | None,
    options: PassOptions,
    should_stop: Callable[[], bool],
    rotation: RotatingSweep | None = None,
    *,
    progress: PassProgress = NO_PROGRESS,
) -> tuple[SweepChoice, Iterator[EventGroup | ScannedEvent]]:
    """The pass's sweep and the events it yields (a scan runs when they are first asked for).
    A rotating pass (``--max-read-units``, ``--full-sweep-every``) reads a share of the table
    by design, so it never scans the whole of it. ``progress`` hears of the sweep's start,
    with the number of events when it is known before the first look."""
    if rotation is not None:
        get_logger(__name__).info("sweep_chosen", mode="query", reason=ROTATING.reason)
        progress.sweep_started(None)
        return ROTATING, rotation.groups()
    choice = choose_sweep(options.sweep, scanner, event=options.event, shard=options.shard)
    if choice.mode is SweepMode.SCAN and scanner is not None:
        progress.sweep_started(None)
        return choice, scan_groups(scanner, options.concurrency, should_stop, progress)
    progress.sweep_started(events_known(choice, options))
    return choice, query_groups(events, event=options.event, shard=options.shard)


def events_known(choice: SweepChoice, options: PassOptions) -> int | None:
    """The query sweep's number of events, when it is known without listing them: one
    ``--event``, or every event when ``auto`` counted them all to choose (it stops counting
    at :func:`events_needed`, and a shard holds an unknown share of them)."""
    if options.event is not None:
        return 1
    shape = choice.shape
    if (
        options.shard is None
        and shape is not None
        and shape.events < events_needed(shape.item_count)
    ):
        return shape.events
    return None


def scan_groups(
    scanner: TableScan,
    segments: int,
    should_stop: Callable[[], bool],
    progress: PassProgress = NO_PROGRESS,
) -> Iterator[ScannedEvent]:
    """The scan sweep's events, in slug order, once the whole table has been read."""
    tally = scan_table(scanner, max(1, segments), should_stop)
    progress.sweep_total(len(tally.events))
    get_logger(__name__).info(
        "table_scanned",
        segments=segments,
        items=tally.items,
        events=len(tally.events),
        attendee_slugs=len(tally.attendees),
    )
    yield from scanned_events(tally)


__all__ = [
    "choose_sweep",
    "events_known",
    "query_groups",
    "scan_groups",
    "scan_table",
    "sweep_groups",
    "table_shape",
]
