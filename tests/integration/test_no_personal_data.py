"""Nothing an attendee typed in ever reaches a log line or a metric line.

Attendee items carry names, emails (also their sort keys) and phone numbers. These tests run
batches full of realistic personal data through every path that logs (orphans, ambiguous
events, malformed records, clamping, replays, failures, the pump's faults) and search
everything written: structlog and stdlib logs at DEBUG (botocore forced to DEBUG too), EMF lines,
stdout and stderr.
"""

from __future__ import annotations

import copy
import io
import json
import logging
from typing import Any

import pytest
from botocore.exceptions import ClientError

from reconciler.devtools.pump import FaultPlan, PumpConfig, StreamPump
from reconciler.handler.batch import BatchFailedError
from reconciler.handler.entry import lambda_function
from reconciler.kernel.ledger import default_state_table
from reconciler.kernel.logs import configure_logging
from reconciler.kernel.model import EventKey
from tests.integration.traffic import Table

PEOPLE = [
    ("Siobhán", "O'Callaghan", "siobhan.ocallaghan@gmail.com", "+353 87 555 0142"),
    ("Mateus", "Figueiredo", "mateus.figueiredo@outlook.com.br", "+55 11 95555-0199"),
    ("Oluwaseun", "Adeyemi", "seun.adeyemi@yahoo.co.uk", "+44 7700 900457"),
    ("Chen", "Xiaoling", "xiaoling.chen@qq.com", "+86 139 5555 0123"),
    ("Dagny", "Thorsdottir", "dagny.t@protonmail.com", "+354 555 0177"),
    ("Rafael", "Quintanilla", "rquintanilla@empresa.mx", "+52 55 5555 0100"),
]

TECH = EventKey("FAD", "tech-summit-2024#2024-10-27#conference")
WORKSHOP = EventKey("EVENT", "workshop#2024-11-15#workshop")


def forbidden() -> list[str]:
    """Every fragment that would identify someone: names, emails, their local parts, phones."""
    fragments: list[str] = []
    for first, last, email, phone in PEOPLE:
        digits = "".join(c for c in phone if c.isdigit())
        fragments += [first, last, email, email.split("@")[0], phone, digits[-7:]]
        fragments.append(json.dumps(first)[1:-1])  # non-ASCII names as JSON escapes them
    return fragments


def assert_no_personal_data(*texts: str) -> None:
    everything = "\n".join(texts)
    leaked = [fragment for fragment in forbidden() if fragment in everything]
    assert leaked == []


@pytest.fixture
def table(clients, table_name) -> Table:  # type: ignore[no-untyped-def]
    return Table(clients, table_name)


def write_traffic(table: Table) -> None:
    """Events with every kind of trouble, and the people above registering for them."""
    table.put_event(TECH, 0)
    table.put_event(WORKSHOP, "lots")  # non-numeric counter
    table.put_event(EventKey("FAD", "twin#2024-01-01#a"))
    table.put_event(EventKey("EVENT", "twin#2024-01-01#a"))  # ambiguous slug
    slugs = ["tech-summit-2024", "workshop", "twin", "nowhere-fest"]  # the last is an orphan
    for index, (first, last, email, phone) in enumerate(PEOPLE):
        table.register(slugs[index % 4], email, first=first, last=last, phone=phone)
    for _first, _last, email, _phone in PEOPLE[:2]:
        table.unregister("tech-summit-2024" if email.startswith("siobhan") else "workshop", email)
    table.change_profession("twin", PEOPLE[2][2], "Surgeon")


def corrupted(records: list[dict[str, Any]]) -> list[object]:
    """Malformed variants that still carry the personal data in their images and keys."""
    sample = next(r for r in records if r["eventName"] == "INSERT" and "ATTENDEE" in json.dumps(r))
    variants: list[object] = []
    for mutate in (
        lambda r: r.update(eventName="TRUNCATE"),
        lambda r: r["dynamodb"]["Keys"].update(pk={"N": "1"}),
        lambda r: r["dynamodb"].pop("NewImage"),
        lambda r: r["dynamodb"].update(SequenceNumber="not-a-number"),
        lambda r: r["dynamodb"]["Keys"].update(sk={"B": "c2lvYmhhbg=="}),
    ):
        variant = copy.deepcopy(sample)
        mutate(variant)
        variants.append(variant)
    variants.append(json.dumps(sample))  # a record that is a string full of personal data
    return variants


def test_handler_logs_and_metrics_carry_no_personal_data(
    table: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    write_traffic(table)
    records = table.records()
    # Clamping: a removal for an event whose count is already zero
    late_removal = next(
        r
        for r in records
        if r["eventName"] == "REMOVE" and "tech-summit" in r["dynamodb"]["Keys"]["pk"]["S"]
    )
    logs = io.StringIO()
    configure_logging("json", "debug", stream=logs)
    # Worst case: configure_logging keeps the SDK at WARNING, but someone turns its
    # request/response debug output on anyway; the handler's requests must still be clean.
    logging.getLogger("botocore").setLevel(logging.DEBUG)
    handler = table.handler()

    handler.handle({"Records": [late_removal]}, "req-clamp")
    handler.handle({"Records": records + corrupted(records)}, "req-main")
    handler.handle({"Records": records}, "req-replay")

    # Failures: throttle every counter write, once partially and once entirely
    def throttle(params: dict[str, Any], **_kwargs: Any) -> None:
        raise ClientError(
            {"Error": {"Code": "ProvisionedThroughputExceededException", "Message": "x"}},
            "TransactWriteItems",
        )

    table.put_event(WORKSHOP, 0)
    more = [
        {**r, "dynamodb": {**r["dynamodb"], "SequenceNumber": str(10**30 + i)}}
        for i, r in enumerate(records)
        if r["dynamodb"]["Keys"]["pk"]["S"] in {"tech-summit-2024#ATTENDEE", "workshop#ATTENDEE"}
    ]
    table.ddb.meta.events.register("before-parameter-build.dynamodb.TransactWriteItems", throttle)
    with pytest.raises(BatchFailedError):
        handler.handle({"Records": more}, "req-fail")

    captured = capsys.readouterr()
    text = logs.getvalue()
    # the paths we meant to exercise really logged something
    for event in (
        "event_orphaned",
        "event_ambiguous",
        "stream_record_malformed",
        "counter_clamped_at_zero",
        "duplicate_records_skipped",
        "counter_update_failed",
        "batch_failed",
    ):
        assert f'"{event}"' in text, event
    assert "Response body" in text  # botocore really logged at DEBUG
    emf = table.emf.getvalue()
    assert emf.count('"_aws"') == 4
    # the ledger names attendees by a hash of their key, never by the key (an e-mail)
    ledger = json.dumps(table.ddb.scan(TableName=default_state_table(table.name))["Items"])
    assert '"LEDGER#' in ledger
    assert_no_personal_data(text, emf, captured.out, captured.err, ledger)


class Flaky:
    """Fails, raises and succeeds in turn, to walk the pump through all its log lines."""

    def __init__(self, table: Table) -> None:
        self.handler = lambda_function(table.handler())
        self.calls = 0

    def __call__(self, event: dict[str, Any], context: Any) -> object:
        self.calls += 1
        if self.calls == 1:
            raise RuntimeError(f"boom with {json.dumps(event)[:2000]}")  # message never logged
        if self.calls in {2, 3}:
            return {"batchItemFailures": [{"itemIdentifier": "0"}]}  # not in batch: whole retry
        return self.handler(event, context)


def test_pump_logs_carry_no_personal_data(table: Table, capsys: pytest.CaptureFixture[str]) -> None:
    write_traffic(table)
    logs = io.StringIO()
    configure_logging("json", "info", stream=logs)
    faults = FaultPlan(
        duplicate_batches=frozenset({1}),
        drop_batches=frozenset({2}),
        delay_batches=frozenset({1}),
        delay_seconds=0.001,
    )
    pump = StreamPump(
        table.clients.streams(),
        table.stream_arn(),
        Flaky(table),
        region="us-east-1",
        config=PumpConfig(batch_size=4, batching_window=0.0, max_retries=1, bisect_on_error=False),
        faults=faults,
    )
    stats = pump.drain()

    assert stats.handler_errors == 1
    assert stats.batches_dropped_after_retries == 1
    assert stats.injected_drops == 1
    text = logs.getvalue()
    for event in (
        "pump_handler_failed",
        "pump_batch_dropped_after_retries",
        "pump_batch_dropped_injected",
        "pump_batch_duplicated_injected",
        "pump_drained",
    ):
        assert f'"{event}"' in text, event
    captured = capsys.readouterr()
    assert_no_personal_data(text, table.emf.getvalue(), captured.out, captured.err)


def test_the_check_itself_catches_a_leak() -> None:
    with pytest.raises(AssertionError):
        assert_no_personal_data(f"registered {PEOPLE[0][2]}")
    with pytest.raises(AssertionError):
        assert_no_personal_data('{"name": "Siobh\\u00e1n"}')


def test_pump_cli_at_debug_level_logs_no_personal_data(
    aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    """At --log-level debug botocore would print GetRecords bodies: attendee images."""
    from reconciler.cli import main
    from reconciler.kernel.aws import Clients

    env = {"TABLE_NAME": "debug-registrations", "RECONCILER_BATCHING_WINDOW": "0"}
    assert main(["pump", "--endpoint-url", aws, "--create-table"], env=env) == 0
    table = Table(Clients(endpoint_url=aws), "debug-registrations")
    write_traffic(table)
    capsys.readouterr()

    code = main(
        ["pump", "--endpoint-url", aws, "--log-level", "debug", "--log-format", "json"], env=env
    )

    captured = capsys.readouterr()
    assert code == 0
    assert '"event_orphaned"' in captured.err  # the handler's debug-level run really logged
    assert '"counter_updated"' in captured.err
    assert_no_personal_data(captured.out, captured.err)
