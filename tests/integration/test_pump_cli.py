"""``reconciler pump`` against a moto server, through the real CLI: it drains the stream
through the handler and prints a summary, and refuses bad settings and streamless tables
naming what is wrong."""

from __future__ import annotations

import json

import pytest

from tests.integration.pump_support import WORKSHOP, registrations
from tests.integration.traffic import Table


def test_pump_cli_drains_through_the_handler_and_prints_a_summary(
    aws: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from reconciler.cli import main
    from reconciler.kernel.aws import Clients

    env = {"TABLE_NAME": "cli-registrations", "RECONCILER_BATCHING_WINDOW": "0"}
    # GIVEN an empty endpoint: --create-table makes the table with its stream
    assert main(["pump", "--endpoint-url", aws, "--create-table"], env=env) == 0
    table = Table(Clients(endpoint_url=aws), "cli-registrations")
    table.put_event(WORKSHOP)
    registrations(table, "workshop", 12)
    capsys.readouterr()

    code = main(
        ["pump", "--endpoint-url", aws, "--duplicate-batches", "0", "--batch-size", "5"], env=env
    )

    assert code == 0
    summary = json.loads(capsys.readouterr().out.strip().splitlines()[-1])
    assert summary["pump"]["duplicated_batches"] == 1
    # 13 written records, plus the handler's own counter updates feeding back as MODIFYs
    assert summary["pump"]["records_read"] == 13 + summary["handler"]["CounterUpdatesApplied"]
    assert summary["handler"]["RecordsInsert"] == 12 + 4
    assert summary["handler"]["DuplicateRecordsSkipped"] == 4
    assert table.stored(WORKSHOP) == 12


@pytest.mark.parametrize(
    ("argv", "setting"),
    [
        (["--batch-size", "0"], "--batch-size"),
        (["--drop-batches", "one"], "--drop-batches"),
        (["--duplicate-rate", "2"], "--duplicate-rate"),
        (["--starting-position", "AT_TIMESTAMP"], "--starting-position"),
    ],
)
def test_pump_cli_rejects_bad_settings_naming_them(
    argv: list[str], setting: str, capsys: pytest.CaptureFixture[str]
) -> None:
    from reconciler.cli import main

    assert main(["pump", *argv], env={"TABLE_NAME": "t"}) == 2
    assert setting in capsys.readouterr().err


def test_pump_cli_without_a_stream_fails_clearly(
    clients,
    aws: str,
    capsys: pytest.CaptureFixture[str],  # type: ignore[no-untyped-def]
) -> None:
    from reconciler.cli import main

    clients.dynamodb().create_table(
        TableName="plain",
        AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
        KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
        BillingMode="PAY_PER_REQUEST",
    )
    assert main(["pump", "--endpoint-url", aws, "--table-name", "plain"], env={}) == 1
    assert "no enabled stream" in capsys.readouterr().err
