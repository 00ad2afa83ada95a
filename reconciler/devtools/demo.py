"""``reconciler demo``: the whole loop on this machine, in about half a minute.

Each step is a function, composed by :func:`run_demo` into three acts: the live path breaks
some counters (duplicated and dropped batches, a hand-edited counter), one reconciliation pass
repairs them, and a short ``serve`` loop shows the metrics an operator would scrape.

1. :func:`local_aws` starts moto in-process on a free loopback port;
2. :func:`create_demo_table` creates the table as the StatefulStack deploys it;
3. :func:`seed_events` writes the event items (both partitions, a prefix pair of slugs);
4. :func:`write_traffic` registers, updates and removes attendees (fake personal data), some
   for an event that does not exist;
5. :func:`pump_stream` feeds the stream through the real handler with injected duplicates;
6. :func:`measure` compares every stored count with the attendee items actually there,
   and :func:`render_report` prints it;
7. :func:`hand_edit_counter` overwrites one counter, as an operator fixing "by hand" would;
8. :func:`reconcile` runs one race-safe pass (short settle window) and collects its audit;
9. :func:`serve_briefly` runs the scheduled worker for a few seconds and samples ``/metrics``.
"""

from __future__ import annotations

import logging
import random
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, TextIO

from reconciler.devtools.embedded_serve import ServeSample, serve_for
from reconciler.devtools.local_table import create_table
from reconciler.devtools.pump import FaultPlan, PumpConfig, PumpStats, StreamPump
from reconciler.handler.batch import StreamHandler
from reconciler.handler.counter_store import DynamoCounterStore
from reconciler.handler.emf import MetricTotals
from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.aws import Clients, local_clients
from reconciler.kernel.event_lookup import DynamoEventLocator
from reconciler.kernel.model import EventKey, TableModel
from reconciler.kernel.settings import TableSettings
from reconciler.reconcile.audit import AuditRecord
from reconciler.reconcile.bootstrap import build_reconciler
from reconciler.reconcile.settings import RunSettings
from reconciler.reconcile.summary import PassSummary

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

DEMO_TABLE = "registrations-demo"
"""Prefix of the demo table; each run adds a suffix, because moto servers started in one
process share their state (the test suite runs the demo beside its own server)."""
DEMO_REGION = "us-east-1"

DEMO_EVENTS: tuple[EventKey, ...] = (
    EventKey("FAD", "tech-summit-2024#2024-10-27#conference"),
    EventKey("EVENT", "workshop#2024-11-15#workshop"),
    EventKey("EVENT", "workshop-ai#2024-11-15#workshop"),
    EventKey("EVENT", "cloud-meetup#2024-12-03#meetup"),
    EventKey("FAD", "data-days#2025-01-20#conference"),
)
ORPHAN_SLUG = "ghost-hackathon"
"""Registrations arrive for it, but no event item exists: the handler must not guess."""

_FIRST = ("Ada", "Grace", "Alan", "Katherine", "Linus", "Margaret", "Tim", "Radia", "Ken", "Joan")
_LAST = ("Lovelace", "Hopper", "Turing", "Johnson", "Torvalds", "Hamilton", "Berners-Lee",
         "Perlman", "Thompson", "Clarke")  # fmt: skip
_PROFESSIONS = ("Developer", "Architect", "Data Scientist", "SRE", "Designer", "Manager")


@dataclass(frozen=True, slots=True)
class DemoOptions:
    seed: int = 7
    registrations: int = 60
    removals: int = 14
    profile_updates: int = 8
    orphan_registrations: int = 3
    batch_size: int = spec.BATCH_SIZE
    batching_window: float = 0.05
    """Short, so the demo takes seconds; the deployed window is BATCHING_WINDOW_SECONDS."""
    faults: FaultPlan = field(
        default_factory=lambda: FaultPlan(
            duplicate_batches=frozenset({1, 3, 6}), drop_batches=frozenset({4, 9})
        )
    )
    hand_edit: tuple[EventKey, int] | None = (DEMO_EVENTS[0], 25)
    """An event whose counter an operator "fixes" by hand, and the value written."""
    settle_seconds: float = 2.0
    """Short for the demo; the deployed default (120 s) outlasts the batching window + retries."""
    serve_seconds: float = 6.0
    serve_every: float = 2.0
    metrics_port: int = 0
    """0 picks a free port; 9464 matches deploy/prometheus/prometheus.yml."""


@dataclass(frozen=True, slots=True)
class Attendee:
    slug: str
    email: str
    first_name: str
    last_name: str
    phone: str
    profession: str


@dataclass(slots=True)
class Traffic:
    registrations: int = 0
    removals: int = 0
    profile_updates: int = 0
    orphan_registrations: int = 0
    people: list[Attendee] = field(default_factory=list)
    """Everyone registered (including those removed again); the tests search logs for them."""


@dataclass(frozen=True, slots=True)
class CountRow:
    key: EventKey
    stored: int | None
    true: int

    @property
    def in_sync(self) -> bool:
        return self.stored == self.true


@dataclass(slots=True)
class DemoResult:
    endpoint: str
    table_name: str
    traffic: Traffic
    pump: PumpStats
    handler: MetricTotals
    rows: list[CountRow]
    """Counts after the live path (and the hand edit), before any reconciliation."""
    repaired: list[CountRow] = field(default_factory=list)
    """Counts after the reconciliation pass."""
    summary: PassSummary | None = None
    corrections: list[AuditRecord] = field(default_factory=list)
    serve: ServeSample | None = None

    @property
    def all_in_sync(self) -> bool:
        """The demo's verdict: every count exact at the end."""
        final = self.repaired or self.rows
        return all(row.in_sync for row in final)


# --- steps ----------------------------------------------------------------------------------


@contextmanager
def local_aws() -> Iterator[str]:
    """moto's HTTP server in this process, on loopback and a free port; yields its URL."""
    # moto is a development dependency: imported only when the demo runs, so the CLI works
    # in images built without it.
    from moto.server import ThreadedMotoServer  # noqa: PLC0415

    logging.getLogger("werkzeug").setLevel(logging.ERROR)
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def demo_clients(endpoint: str) -> Clients:
    """Clients with dummy credentials pinned to the local endpoint; the environment (and any
    real AWS profile in it) is neither read for credentials nor changed."""
    return local_clients(endpoint, DEMO_REGION, max_attempts=3)


def create_demo_table(clients: Clients, table_name: str) -> str:
    return create_table(clients.dynamodb(), table_name)


def seed_events(
    clients: Clients, table_name: str, events: Sequence[EventKey] = DEMO_EVENTS
) -> None:
    dynamodb = clients.dynamodb()
    for key in events:
        dynamodb.put_item(
            TableName=table_name,
            Item={
                "pk": {"S": key.partition},
                "sk": {"S": key.sort_key},
                "attendeeCount": {"N": "0"},
                "title": {"S": key.slug.replace("-", " ").title()},
            },
        )


def fake_attendee(rng: random.Random, slug: str, number: int) -> Attendee:
    first, last = rng.choice(_FIRST), rng.choice(_LAST)
    local = f"{first}.{last}".lower().replace(" ", "")
    return Attendee(
        slug=slug,
        email=f"{local}{number}@example.com",
        first_name=first,
        last_name=last,
        phone=f"+1-555-01{rng.randrange(100):02d}",
        profession=rng.choice(_PROFESSIONS),
    )


def write_traffic(
    clients: Clients,
    table_name: str,
    options: DemoOptions,
    events: Sequence[EventKey] = DEMO_EVENTS,
) -> Traffic:
    """Registrations, profile updates and removals in a shuffled but reproducible order."""
    dynamodb = clients.dynamodb()
    rng = random.Random(options.seed)
    traffic = Traffic()
    registered: list[Attendee] = []
    for number in range(options.registrations):
        attendee = fake_attendee(rng, rng.choice(events).slug, number)
        _put_attendee(dynamodb, table_name, attendee)
        registered.append(attendee)
        traffic.registrations += 1
    for number in range(options.orphan_registrations):
        attendee = fake_attendee(rng, ORPHAN_SLUG, 1000 + number)
        _put_attendee(dynamodb, table_name, attendee)
        registered.append(attendee)
        traffic.orphan_registrations += 1
    traffic.people = list(registered)
    for attendee in rng.sample(registered, options.profile_updates):
        dynamodb.update_item(
            TableName=table_name,
            Key=_attendee_key(attendee),
            UpdateExpression="SET profession = :p",
            ExpressionAttributeValues={":p": {"S": rng.choice(_PROFESSIONS)}},
        )
        traffic.profile_updates += 1
    for attendee in rng.sample(registered, options.removals):
        dynamodb.delete_item(TableName=table_name, Key=_attendee_key(attendee))
        traffic.removals += 1
    return traffic


def _attendee_key(attendee: Attendee) -> dict[str, dict[str, str]]:
    return {"pk": {"S": f"{attendee.slug}#ATTENDEE"}, "sk": {"S": attendee.email}}


def _put_attendee(dynamodb: DynamoDBClient, table_name: str, attendee: Attendee) -> None:
    dynamodb.put_item(
        TableName=table_name,
        Item={
            **_attendee_key(attendee),
            "firstName": {"S": attendee.first_name},
            "lastName": {"S": attendee.last_name},
            "email": {"S": attendee.email},
            "phone": {"S": attendee.phone},
            "profession": {"S": attendee.profession},
            "eventType": {"S": "fad"},
        },
    )


def pump_stream(
    clients: Clients, table_name: str, stream_arn: str, options: DemoOptions
) -> tuple[PumpStats, MetricTotals]:
    """Drain the stream through the real handler, as Lambda would, with injected faults."""
    model = TableModel()
    dynamodb = clients.dynamodb()
    totals = MetricTotals()
    handler = StreamHandler(
        DynamoEventLocator(dynamodb, table_name, model),
        DynamoCounterStore(dynamodb, table_name, model),
        totals,
        model,
    )
    pump = StreamPump(
        clients.streams(),
        stream_arn,
        lambda event, context: handler.handle(event, context.aws_request_id),
        region=clients.region,
        config=PumpConfig(batch_size=options.batch_size, batching_window=options.batching_window),
        faults=options.faults,
    )
    return pump.drain(), totals


def measure(
    clients: Clients, table_name: str, events: Sequence[EventKey] = DEMO_EVENTS
) -> list[CountRow]:
    """Stored counter vs the attendee items really in the table, per event.

    Deliberately its own plain reads, not the reconciler's adapter: the demo's verdict is a
    second opinion on the reconciler, so it must not share its code.
    """
    dynamodb = clients.dynamodb()
    rows = []
    for key in events:
        item = dynamodb.get_item(
            TableName=table_name,
            Key={"pk": {"S": key.partition}, "sk": {"S": key.sort_key}},
            ConsistentRead=True,
        ).get("Item", {})
        stored = item.get("attendeeCount", {}).get("N")
        true = _count_attendees(dynamodb, table_name, key.slug)
        rows.append(CountRow(key, None if stored is None else int(stored), true))
    return rows


def _count_attendees(dynamodb: DynamoDBClient, table_name: str, slug: str) -> int:
    total = 0
    kwargs: dict[str, object] = {
        "TableName": table_name,
        "KeyConditionExpression": "pk = :pk",
        "ExpressionAttributeValues": {":pk": {"S": f"{slug}#ATTENDEE"}},
        "Select": "COUNT",
        "ConsistentRead": True,
    }
    while True:
        page = dynamodb.query(**kwargs)  # type: ignore[arg-type]
        total += page["Count"]
        if "LastEvaluatedKey" not in page:
            return total
        kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]


def render_report(result: DemoResult) -> str:
    traffic, pump, handler = result.traffic, result.pump, result.handler
    lines = [
        f"1. Live path: moto at {result.endpoint}, table {result.table_name}",
        "",
        f"traffic  {traffic.registrations} registrations, {traffic.removals} removals, "
        f"{traffic.profile_updates} profile updates over {len(result.rows)} events; "
        f"{traffic.orphan_registrations} registrations for '{ORPHAN_SLUG}', which has no event",
        f"pump     {pump.records_read} stream records in {pump.batches} batches; "
        f"{pump.duplicated_batches} batches delivered twice, {pump.injected_drops} dropped "
        f"({pump.records_dropped_injected} records, as Lambda drops a batch whose retries are "
        f"spent), {pump.invocations} invocations",
        f"handler  saw {handler.get(spec.METRIC_RECORDS_INSERT)} INSERT, "
        f"{handler.get(spec.METRIC_RECORDS_REMOVE)} REMOVE, "
        f"{handler.get(spec.METRIC_RECORDS_MODIFY)} MODIFY attendee records (replays included); "
        f"applied {handler.get(spec.METRIC_COUNTER_UPDATES)} counter updates, "
        f"skipped {handler.get(spec.METRIC_DUPLICATES_SKIPPED)} duplicates, "
        f"{handler.get(spec.METRIC_ORPHAN_RECORDS)} orphan records, "
        f"{handler.get(spec.METRIC_CLAMPED_AT_ZERO)} clamped at zero",
        "",
        "stored = attendeeCount on the event item; true = attendee items in <slug>#ATTENDEE",
        "",
        *render_counts(result.rows),
    ]
    return "\n".join(lines)


def render_counts(rows: Sequence[CountRow]) -> list[str]:
    lines: list[str] = []
    headers = ("partition", "event", "stored", "true", "")
    table = [
        (
            row.key.partition,
            row.key.sort_key,
            "-" if row.stored is None else str(row.stored),
            str(row.true),
            "ok" if row.in_sync else f"DRIFT {_signed((row.stored or 0) - row.true)}",
        )
        for row in rows
    ]
    widths = [max(len(cells[i]) for cells in (headers, *table)) for i in range(len(headers))]
    for cells in (headers, *table):
        lines.append(
            "  ".join(
                cell.rjust(width) if index in (2, 3) else cell.ljust(width)
                for index, (cell, width) in enumerate(zip(cells, widths, strict=True))
            ).rstrip()
        )
    lines.append("")
    drifted = sum(1 for row in rows if not row.in_sync)
    if drifted:
        lines.append(f"{drifted} of {len(rows)} counters drifted.")
    else:
        lines.append(f"All {len(rows)} counters match their attendees.")
    return lines


def hand_edit_counter(clients: Clients, table_name: str, key: EventKey, value: int) -> None:
    """What an operator "fixing" a count in the console does: a plain overwrite, which also
    bypasses ``counterVersion`` (the reconciler still only writes after the settle recheck)."""
    clients.dynamodb().update_item(
        TableName=table_name,
        Key={"pk": {"S": key.partition}, "sk": {"S": key.sort_key}},
        UpdateExpression="SET attendeeCount = :value",
        ExpressionAttributeValues={":value": {"N": str(value)}},
    )


class _CollectAudit:
    def __init__(self) -> None:
        self.records: list[AuditRecord] = []

    def write(self, record: AuditRecord) -> None:
        self.records.append(record)


def demo_run_settings(table_name: str, options: DemoOptions) -> RunSettings:
    return RunSettings(
        table=TableSettings(table_name=table_name, model=TableModel()),
        settle_seconds=options.settle_seconds,
    )


def reconcile(
    clients: Clients, table_name: str, options: DemoOptions
) -> tuple[PassSummary, list[AuditRecord]]:
    """One pass exactly as ``reconciler run --once`` makes it, with a short settle window."""
    collected = _CollectAudit()
    reconciler = build_reconciler(
        demo_run_settings(table_name, options), clients, extra_audit_sinks=[collected]
    )
    try:
        summary = reconciler.run_pass()
    finally:
        reconciler.close()
    return summary, collected.records


def render_reconciliation(
    summary: PassSummary,
    corrections: Sequence[AuditRecord],
    repaired: Sequence[CountRow],
    settle_seconds: float,
) -> str:
    lines = [
        f"2. Reconciliation: reconciler run --once --settle-seconds {settle_seconds:g} "
        f"(run {summary.run_id})",
        "",
        f"checked {summary.events_checked} events: {summary.in_sync} in sync, "
        f"{summary.drifted} drifted; after the settle window {summary.corrected} corrected, "
        f"{summary.conflicts} conflicts, {summary.in_flux} in flux "
        f"({summary.consumed_read_units:g} read units, {summary.duration_seconds:.1f} s)",
    ]
    for record in corrections:
        lines.append(
            f"  audit  {record.sort_key}: stored {record.stored_raw or record.stored} -> "
            f"counted {record.counted} ({record.reason}, {record.outcome})"
        )
    lines += ["", *render_counts(repaired)]
    return "\n".join(lines)


def serve_briefly(
    clients: Clients, table_name: str, options: DemoOptions, out: TextIO
) -> ServeSample:
    """The scheduled worker for a few seconds, so the operator's view is visible too."""

    def announce(url: str) -> None:
        print(
            f"3. Scheduled worker: reconciler serve --every {options.serve_every:g}s "
            f"for {options.serve_seconds:g} s; metrics at {url}",
            file=out,
            flush=True,
        )

    return serve_for(
        demo_run_settings(table_name, options),
        clients,
        options.serve_seconds,
        port=options.metrics_port,
        every=options.serve_every,
        on_ready=announce,
    )


def render_serve(sample: ServeSample) -> str:
    width = max((len(name) for name in sample.values), default=0)
    lines = ["", "sampled from /metrics:"]
    lines += [
        f"  {name.ljust(width)}  {value:.0f}"
        if value >= 1e6
        else f"  {name.ljust(width)}  {value:g}"
        for name, value in sample.values.items()
    ]
    lines.append(
        "(point a local Prometheus at it with deploy/prometheus/prometheus.yml; see README)"
    )
    return "\n".join(lines)


def _signed(number: int) -> str:
    return f"{number:+d}"


# --- the whole demo ----------------------------------------------------------------------


def run_demo(out: TextIO, options: DemoOptions | None = None) -> DemoResult:
    options = options or DemoOptions()
    table_name = f"{DEMO_TABLE}-{uuid.uuid4().hex[:6]}"
    with local_aws() as endpoint:
        clients = demo_clients(endpoint)
        stream_arn = create_demo_table(clients, table_name)
        seed_events(clients, table_name)
        traffic = write_traffic(clients, table_name, options)
        pump, totals = pump_stream(clients, table_name, stream_arn, options)
        if options.hand_edit is not None:
            hand_edit_counter(clients, table_name, *options.hand_edit)
        rows = measure(clients, table_name)
        result = DemoResult(endpoint, table_name, traffic, pump, totals, rows)
        print(render_report(result), file=out, flush=True)
        if options.hand_edit is not None:
            key, value = options.hand_edit
            print(f"(and {key.sort_key} was set to {value} by hand)", file=out)
        print("", file=out, flush=True)

        result.summary, result.corrections = reconcile(clients, table_name, options)
        result.repaired = measure(clients, table_name)
        report = render_reconciliation(
            result.summary, result.corrections, result.repaired, options.settle_seconds
        )
        print(report, file=out, flush=True)
        print("", file=out, flush=True)

        if options.serve_seconds > 0:
            result.serve = serve_briefly(clients, table_name, options, out)
            print(render_serve(result.serve), file=out, flush=True)
        verdict = (
            "Every counter is exact."
            if result.all_in_sync
            else "Some counters are still wrong: the demo failed."
        )
        print(f"\n{verdict}", file=out, flush=True)
    return result
