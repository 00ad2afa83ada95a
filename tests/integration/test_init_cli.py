"""``reconciler init`` end to end against a moto server: both tables created once, an existing
registration table never changed, and ``--backfill`` giving every attendee exactly one entry."""

from __future__ import annotations

import json
import os
import uuid
from typing import Any

import pytest

from reconciler.cli import main
from reconciler.kernel.aws import Clients
from reconciler.kernel.ledger import item_hash
from reconciler.kernel.model import EventKey
from tests.integration.traffic import Table

WORKSHOP = EventKey("EVENT", "workshop#2024-11-15#workshop")
SUMMIT = EventKey("FAD", "tech-summit-2024#2024-10-27#conference")
PEOPLE = {
    "workshop": ["siobhan.ocallaghan@gmail.com", "mateus.figueiredo@outlook.com.br"],
    "tech-summit-2024": [
        "seun.adeyemi@yahoo.co.uk",
        "xiaoling.chen@qq.com",
        "dagny.t@protonmail.com",
    ],
}


def init(
    capsys: pytest.CaptureFixture[str], table_name: str, *args: str
) -> tuple[int, dict[str, Any], str]:
    environment = {**os.environ, "TABLE_NAME": table_name}
    code = main(["init", "--settle-seconds", "0", *args], environment)
    captured = capsys.readouterr()
    lines = captured.out.strip().splitlines()
    assert len(lines) == 1, captured.out
    return code, json.loads(lines[0]), captured.err


def fresh_name() -> str:
    return f"registrations-{uuid.uuid4().hex[:8]}"


def state_items(clients: Clients, state_table: str) -> list[dict[str, Any]]:
    response = clients.dynamodb().scan(TableName=state_table, ConsistentRead=True)
    return list(response["Items"])


def entry(clients: Clients, state_table: str, slug: str, email: str) -> dict[str, Any] | None:
    response = clients.dynamodb().get_item(
        TableName=state_table,
        Key={
            "pk": {"S": f"LEDGER#{slug}"},
            "sk": {"S": item_hash(f"{slug}#ATTENDEE", email)},
        },
        ConsistentRead=True,
    )
    item = response.get("Item")
    return dict(item) if item else None


@pytest.fixture
def registered(clients: Clients, table_name: str) -> Table:
    """Two events with their attendees, an orphan attendee, and both tables set up."""
    table = Table(clients, table_name)
    table.put_event(WORKSHOP, 2)
    table.put_event(SUMMIT, 3)
    for slug, emails in PEOPLE.items():
        for email in emails:
            table.register(slug, email)
    table.register("nowhere-fest", "rquintanilla@empresa.mx")
    return table


# -- setting the tables up ---------------------------------------------------------------------


def test_init_creates_the_registration_table_with_its_stream_and_the_state_table_with_ttl(
    clients: Clients, capsys: pytest.CaptureFixture[str]
) -> None:
    name = fresh_name()
    code, summary, err = init(capsys, name)

    assert code == 0
    assert summary["ok"] is True
    assert summary["registration_table"] == "created"
    assert summary["state_table"] == "created"
    assert (summary["ttl"], summary["point_in_time_recovery"]) == ("enabled", "enabled")
    assert summary["state_table_name"] == f"{name}-state"
    ddb = clients.dynamodb()
    registration = ddb.describe_table(TableName=name)["Table"]
    assert registration["StreamSpecification"] == {
        "StreamEnabled": True,
        "StreamViewType": "NEW_AND_OLD_IMAGES",
    }
    state = ddb.describe_table(TableName=f"{name}-state")["Table"]
    assert {k["AttributeName"]: k["KeyType"] for k in state["KeySchema"]} == {
        "pk": "HASH",
        "sk": "RANGE",
    }
    assert state["BillingModeSummary"]["BillingMode"] == "PAY_PER_REQUEST"
    assert not state.get("StreamSpecification", {}).get("StreamEnabled")
    ttl = ddb.describe_time_to_live(TableName=f"{name}-state")["TimeToLiveDescription"]
    assert (ttl["TimeToLiveStatus"], ttl["AttributeName"]) == ("ENABLED", "expiresAt")
    backups = ddb.describe_continuous_backups(TableName=f"{name}-state")
    recovery = backups["ContinuousBackupsDescription"]["PointInTimeRecoveryDescription"]
    assert recovery["PointInTimeRecoveryStatus"] == "ENABLED"
    assert f"registration table {name}: created" in err


def test_a_second_init_changes_nothing_and_says_so(
    clients: Clients, capsys: pytest.CaptureFixture[str]
) -> None:
    name = fresh_name()
    init(capsys, name)
    created = clients.dynamodb().describe_table(TableName=name)["Table"]["LatestStreamArn"]

    code, summary, err = init(capsys, name)

    assert code == 0
    assert summary["changed"] is False
    assert [summary[k] for k in ("registration_table", "state_table")] == ["existed"] * 2
    assert [summary[k] for k in ("ttl", "point_in_time_recovery")] == ["already"] * 2
    assert "nothing to change" in err
    assert clients.dynamodb().describe_table(TableName=name)["Table"]["LatestStreamArn"] == created


def test_init_sets_up_the_state_table_beside_a_registration_table_that_exists(
    table_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary, _ = init(capsys, table_name, "--state-table", f"{table_name}-ledger")

    assert code == 0
    assert (summary["registration_table"], summary["state_table"]) == ("existed", "created")
    assert summary["state_table_name"] == f"{table_name}-ledger"


def test_init_refuses_a_registration_table_without_a_stream_and_leaves_it_as_it_is(
    clients: Clients, capsys: pytest.CaptureFixture[str]
) -> None:
    name = fresh_name()
    clients.dynamodb().create_table(
        TableName=name,
        AttributeDefinitions=[
            {"AttributeName": "pk", "AttributeType": "S"},
            {"AttributeName": "sk", "AttributeType": "S"},
        ],
        KeySchema=[
            {"AttributeName": "pk", "KeyType": "HASH"},
            {"AttributeName": "sk", "KeyType": "RANGE"},
        ],
        BillingMode="PAY_PER_REQUEST",
    )

    code, summary, err = init(capsys, name)

    assert code == 1
    assert summary["ok"] is False
    assert summary["error"] == f"registration table {name} has no stream"
    assert "StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES" in summary["fix"]
    assert "has no stream" in err
    assert "fix: aws dynamodb update-table" in err
    ddb = clients.dynamodb()
    assert "StreamSpecification" not in ddb.describe_table(TableName=name)["Table"]
    assert f"{name}-state" not in ddb.list_tables()["TableNames"]


def test_a_dry_run_creates_nothing_and_says_what_it_would_do(
    clients: Clients, capsys: pytest.CaptureFixture[str]
) -> None:
    name = fresh_name()
    code, summary, err = init(capsys, name, "--dry-run", "--backfill")

    assert code == 0
    assert (summary["registration_table"], summary["state_table"]) == ("would_create",) * 2
    assert (summary["ttl"], summary["point_in_time_recovery"]) == ("would_enable",) * 2
    assert summary["backfill"]["attendees"] == 0
    assert "would be created (dry run)" in err
    assert clients.dynamodb().list_tables()["TableNames"] == []


def test_an_unreachable_endpoint_is_one_line_and_exit_1(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:9")
    environment = {**os.environ, "TABLE_NAME": "registrations"}
    code = main(["init"], environment)
    captured = capsys.readouterr()

    assert code == 1
    assert json.loads(captured.out)["error"].startswith("DescribeTable: AWS endpoint unreachable")
    assert "Traceback" not in captured.err


# -- the backfill ------------------------------------------------------------------------------


def test_the_backfill_gives_every_attendee_exactly_one_present_entry_without_a_position(
    clients: Clients, registered: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary, _ = init(capsys, registered.name, "--backfill")

    assert code == 0
    backfill = summary["backfill"]
    assert (backfill["events"], backfill["attendees"], backfill["entries_created"]) == (2, 5, 5)
    assert (backfill["entries_existing"], backfill["events_completed"]) == (0, 2)
    state = f"{registered.name}-state"
    entries = [i for i in state_items(clients, state) if i["sk"]["S"] != "#meta"]
    expected = sorted(
        (f"LEDGER#{slug}", item_hash(f"{slug}#ATTENDEE", email))
        for slug, emails in PEOPLE.items()
        for email in emails
    )
    assert sorted((i["pk"]["S"], i["sk"]["S"]) for i in entries) == expected
    assert all(set(i) == {"pk", "sk", "present"} for i in entries)
    assert all(i["present"] == {"BOOL": True} for i in entries)


def test_the_backfill_marks_every_event_backfilled_on_its_meta_item(
    clients: Clients, registered: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    init(capsys, registered.name, "--backfill")

    state = f"{registered.name}-state"
    metas = {i["pk"]["S"]: i for i in state_items(clients, state) if i["sk"]["S"] == "#meta"}
    assert sorted(metas) == ["LEDGER#tech-summit-2024", "LEDGER#workshop"]
    for meta in metas.values():
        stamp = meta["backfilledAt"]["S"]
        assert len(stamp) == 20
        assert stamp.endswith("Z")


def test_the_backfill_leaves_an_entry_that_exists_untouched(
    clients: Clients, registered: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    init(capsys, registered.name)
    state = f"{registered.name}-state"
    email = PEOPLE["workshop"][0]
    tombstone = {
        "pk": {"S": "LEDGER#workshop"},
        "sk": {"S": item_hash("workshop#ATTENDEE", email)},
        "present": {"BOOL": False},
        "pos": {"S": "2024-11-15T00:00:00.000/" + "7".zfill(40)},
        "expiresAt": {"N": "1999999999"},
    }
    clients.dynamodb().put_item(TableName=state, Item=tombstone)

    code, summary, _ = init(capsys, registered.name, "--backfill")

    assert code == 0
    assert entry(clients, state, "workshop", email) == tombstone
    assert (summary["backfill"]["entries_created"], summary["backfill"]["entries_existing"]) == (
        4,
        1,
    )


def test_a_second_backfill_creates_nothing(
    registered: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    init(capsys, registered.name, "--backfill")
    code, summary, _ = init(capsys, registered.name, "--backfill")

    assert code == 0
    assert (summary["backfill"]["entries_created"], summary["backfill"]["entries_existing"]) == (
        0,
        5,
    )
    assert summary["backfill"]["events_completed"] == 2


def test_a_dry_run_backfill_counts_the_attendees_and_writes_nothing(
    clients: Clients, registered: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    init(capsys, registered.name)
    code, summary, err = init(capsys, registered.name, "--backfill", "--dry-run")

    assert code == 0
    assert (summary["backfill"]["attendees"], summary["backfill"]["entries_created"]) == (5, 0)
    assert "nothing written" in err
    assert state_items(clients, f"{registered.name}-state") == []


def test_the_backfill_of_one_event_touches_no_other(
    clients: Clients, registered: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary, _ = init(capsys, registered.name, "--backfill", "--event", "workshop")

    assert code == 0
    assert (summary["backfill"]["events"], summary["backfill"]["entries_created"]) == (1, 2)
    partitions = {i["pk"]["S"] for i in state_items(clients, f"{registered.name}-state")}
    assert partitions == {"LEDGER#workshop"}


def test_the_backfill_of_an_event_that_does_not_exist_fails_and_writes_nothing(
    clients: Clients, registered: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    code, summary, err = init(capsys, registered.name, "--backfill", "--event", "nowhere-fest")

    assert code == 1
    assert summary["error"] == "no event item has the slug 'nowhere-fest'"
    assert "run it again to resume" in err
    assert state_items(clients, f"{registered.name}-state") == []


def test_a_backfill_over_many_pages_of_attendees_misses_none(
    clients: Clients, table_name: str, capsys: pytest.CaptureFixture[str]
) -> None:
    table = Table(clients, table_name)
    table.put_event(WORKSHOP, 0)
    padding = "x" * 300_000  # 1 MB query pages hold about three of these items
    for i in range(8):
        table.ddb.put_item(
            TableName=table_name,
            Item={
                "pk": {"S": "workshop#ATTENDEE"},
                "sk": {"S": f"p{i}@example.com"},
                "notes": {"S": padding},
            },
        )

    code, summary, _ = init(capsys, table_name, "--backfill")

    assert code == 0
    assert summary["backfill"]["entries_created"] == 8


def test_no_email_address_reaches_any_output_or_log_line(
    registered: Table, capsys: pytest.CaptureFixture[str]
) -> None:
    outputs = []
    for args in (
        ("--backfill", "--log-level", "debug", "--log-format", "json"),
        ("--backfill", "--log-level", "debug", "--log-format", "console"),
        ("--backfill", "--dry-run", "--log-level", "debug"),
        ("--backfill", "--event", "nowhere-fest", "--log-level", "debug"),
    ):
        _, summary, err = init(capsys, registered.name, *args)
        outputs += [json.dumps(summary), err]
    everything = "\n".join(outputs)

    assert "backfill_event_completed" in everything
    emails = [email for emails in PEOPLE.values() for email in emails]
    emails.append("rquintanilla@empresa.mx")
    leaked = [
        fragment
        for email in emails
        for fragment in (email, email.split("@")[0])
        if fragment in everything
    ]
    assert leaked == []
    assert "@" not in everything
