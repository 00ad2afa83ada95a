"""``reconciler init`` without AWS: its settings, and what it decides about a table it found."""

from __future__ import annotations

from typing import Any

import pytest

from reconciler.cli import build_parser
from reconciler.cli.init import parse_init_settings
from reconciler.devtools.local_table import (
    SetupReport,
    Step,
    TableShapeError,
    check_registration_table,
    check_state_table,
    ttl_step,
)
from reconciler.kernel.errors import ConfigError
from reconciler.kernel.ledger import LedgerModel
from reconciler.kernel.model import TableModel
from reconciler.kernel.settings import Source
from reconciler.reconcile.settings import DEFAULT_SETTLE_SECONDS

MODEL = TableModel()
LEDGER = LedgerModel()


def settings(*argv: str, **env: str):  # type: ignore[no-untyped-def]
    args = build_parser().parse_args(["init", *argv])
    return parse_init_settings(Source(args, env))


def described(
    name: str = "registrations",
    *,
    keys: tuple[str, str] = ("pk", "sk"),
    stream: dict[str, Any] | None = None,
) -> dict[str, Any]:
    table: dict[str, Any] = {
        "TableName": name,
        "KeySchema": [
            {"AttributeName": keys[0], "KeyType": "HASH"},
            {"AttributeName": keys[1], "KeyType": "RANGE"},
        ],
        "AttributeDefinitions": [
            {"AttributeName": keys[0], "AttributeType": "S"},
            {"AttributeName": keys[1], "AttributeType": "S"},
        ],
    }
    if stream is not None:
        table["StreamSpecification"] = stream
    return table


IMAGES = {"StreamEnabled": True, "StreamViewType": "NEW_AND_OLD_IMAGES"}


# -- settings ----------------------------------------------------------------------------------


def test_the_defaults_create_tables_only_and_settle_as_long_as_a_pass_does():
    parsed = settings("--table-name", "registrations")
    assert parsed.backfill is False
    assert parsed.table.state_table == "registrations-state"
    assert parsed.options.settle_seconds == DEFAULT_SETTLE_SECONDS
    assert (parsed.options.concurrency, parsed.dry_run) == (4, False)


def test_backfill_options_come_from_flags_or_the_environment():
    parsed = settings(
        "--backfill", "--event", "workshop", "--concurrency", "8", "--settle-seconds", "30s",
        TABLE_NAME="registrations", RECONCILER_DRY_RUN="true",
        RECONCILER_STATE_TABLE="ledger",
    )  # fmt: skip
    assert (parsed.backfill, parsed.event, parsed.dry_run) == (True, "workshop", True)
    assert (parsed.options.concurrency, parsed.options.settle_seconds) == (8, 30.0)
    assert parsed.table.state_table == "ledger"


def test_the_table_name_is_required():
    with pytest.raises(ConfigError, match="--table-name / TABLE_NAME: is required"):
        settings()


def test_an_event_without_backfill_is_a_usage_error():
    with pytest.raises(ConfigError, match="--event: applies only with --backfill"):
        settings("--table-name", "registrations", "--event", "workshop")


def test_an_event_that_is_no_slug_is_a_usage_error():
    with pytest.raises(ConfigError, match="not a valid event slug"):
        settings("--table-name", "registrations", "--backfill", "--event", "a#b")


def test_the_state_table_must_not_be_the_registration_table():
    with pytest.raises(ConfigError, match="--state-table: must differ from the table name"):
        settings("--table-name", "registrations", "--state-table", "registrations")


@pytest.mark.parametrize("value", ["0", "65", "many"])
def test_concurrency_is_a_whole_number_from_1_to_64(value: str):
    with pytest.raises(ConfigError, match="--concurrency"):
        settings("--table-name", "registrations", "--backfill", "--concurrency", value)


# -- the registration table, as found ----------------------------------------------------------


def test_a_registration_table_with_its_keys_and_an_images_stream_passes():
    check_registration_table(described(stream=IMAGES), MODEL)


def test_a_registration_table_without_a_stream_is_refused_with_the_command_that_fixes_it():
    with pytest.raises(TableShapeError) as caught:
        check_registration_table(described(), MODEL)
    assert caught.value.problem == "registration table registrations has no stream"
    assert "StreamEnabled=true,StreamViewType=NEW_AND_OLD_IMAGES" in caught.value.fix
    assert "never changes an existing registration table" in caught.value.fix


def test_a_registration_table_with_a_disabled_stream_is_refused():
    with pytest.raises(TableShapeError, match="has no stream"):
        check_registration_table(described(stream={"StreamEnabled": False}), MODEL)


def test_a_stream_without_old_images_is_refused_because_removals_need_them():
    keys_only = {"StreamEnabled": True, "StreamViewType": "KEYS_ONLY"}
    with pytest.raises(TableShapeError, match="streams KEYS_ONLY, the handler needs") as caught:
        check_registration_table(described(stream=keys_only), MODEL)
    assert caught.value.fix.startswith("disable the stream, then ")


def test_a_registration_table_with_other_keys_is_refused():
    with pytest.raises(TableShapeError, match="key schema is HASH id"):
        check_registration_table(described(keys=("id", "sk"), stream=IMAGES), MODEL)


# -- the state table, as found -----------------------------------------------------------------


def test_a_state_table_with_the_ledger_keys_and_no_stream_passes():
    check_state_table(described("registrations-state"), LEDGER)


def test_a_state_table_with_a_stream_is_refused():
    with pytest.raises(TableShapeError, match="must never reach a stream") as caught:
        check_state_table(described("registrations-state", stream=IMAGES), LEDGER)
    assert "StreamEnabled=false" in caught.value.fix


def test_a_state_table_with_other_keys_is_refused():
    with pytest.raises(TableShapeError, match="key schema"):
        check_state_table(described("registrations-state", keys=("pk", "id")), LEDGER)


def test_ttl_on_expires_at_is_already_done_and_off_is_to_be_enabled():
    on = {"TimeToLiveStatus": "ENABLED", "AttributeName": "expiresAt"}
    assert ttl_step(on, "s", LEDGER) is Step.ALREADY
    assert ttl_step({**on, "TimeToLiveStatus": "ENABLING"}, "s", LEDGER) is Step.ALREADY
    assert ttl_step({"TimeToLiveStatus": "DISABLED"}, "s", LEDGER) is None


def test_ttl_on_another_attribute_is_refused_rather_than_switched():
    with pytest.raises(TableShapeError, match="TTL on ttl, the ledger needs expiresAt"):
        ttl_step({"TimeToLiveStatus": "ENABLED", "AttributeName": "ttl"}, "s", LEDGER)


def test_ttl_being_disabled_is_refused_until_it_is_off():
    with pytest.raises(TableShapeError, match="TTL is being disabled"):
        ttl_step({"TimeToLiveStatus": "DISABLING", "AttributeName": "expiresAt"}, "s", LEDGER)


def test_a_report_of_existing_tables_says_nothing_changed():
    unchanged = SetupReport(Step.EXISTED, Step.EXISTED, Step.ALREADY, Step.UNSUPPORTED)
    assert unchanged.changed is False
    assert SetupReport(Step.EXISTED, Step.EXISTED, Step.ENABLED, Step.ALREADY).changed is True
    dry = SetupReport(Step.WOULD_CREATE, Step.EXISTED, Step.ALREADY, Step.ALREADY)
    assert dry.changed is True
