"""The tables as the StatefulStack deploys them, created on any endpoint, and checked when they
already exist.

Used by ``reconciler init`` (which sets both tables up, idempotently), ``reconciler demo``, the
tests and ``reconciler pump --create-table``. An existing registration table is only ever
described, never changed: it holds the registrations, and reshaping it is a deployment's job.
The state table holds nothing but the counter's ledger, so ``init`` may finish setting it up.
"""

from __future__ import annotations

import enum
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from reconciler.kernel.aws import aws_call
from reconciler.kernel.errors import AwsError, ReconcilerError
from reconciler.kernel.ledger import LedgerModel
from reconciler.kernel.model import TableModel
from reconciler.kernel.settings import TableSettings

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

STREAM_VIEW_TYPE: Final = "NEW_AND_OLD_IMAGES"
"""The handler needs the old image of a REMOVE record, and the pump the new one of an INSERT."""

_UNSUPPORTED = "UnknownOperationException"
"""What a local endpoint without TTL or backups (dynalite) answers."""


class TableShapeError(ReconcilerError):
    """An existing table is not shaped as the system needs it; ``fix`` says what to do."""

    def __init__(self, problem: str, fix: str) -> None:
        super().__init__(problem)
        self.problem = problem
        self.fix = fix


class Step(enum.Enum):
    """What ``init`` did to one part of the set-up (the words of its JSON summary)."""

    CREATED = "created"
    EXISTED = "existed"
    WOULD_CREATE = "would_create"
    ENABLED = "enabled"
    ALREADY = "already"
    WOULD_ENABLE = "would_enable"
    UNSUPPORTED = "unsupported"
    """The endpoint does not implement the operation (dynalite has no TTL and no backups)."""


_CHANGES = frozenset({Step.CREATED, Step.ENABLED, Step.WOULD_CREATE, Step.WOULD_ENABLE})


@dataclass(frozen=True, slots=True)
class SetupReport:
    registration_table: Step
    state_table: Step
    ttl: Step
    point_in_time_recovery: Step

    @property
    def changed(self) -> bool:
        """Whether anything was (or, in a dry run, would be) created or enabled."""
        return any(step in _CHANGES for step in self.steps().values())

    def steps(self) -> dict[str, Step]:
        return {
            "registration_table": self.registration_table,
            "state_table": self.state_table,
            "ttl": self.ttl,
            "point_in_time_recovery": self.point_in_time_recovery,
        }


def _key_schema(model: TableModel | LedgerModel) -> dict[str, Any]:
    return {
        "AttributeDefinitions": [
            {"AttributeName": model.pk_attr, "AttributeType": "S"},
            {"AttributeName": model.sk_attr, "AttributeType": "S"},
        ],
        "KeySchema": [
            {"AttributeName": model.pk_attr, "KeyType": "HASH"},
            {"AttributeName": model.sk_attr, "KeyType": "RANGE"},
        ],
    }


def create_table(dynamodb: DynamoDBClient, table_name: str, model: TableModel | None = None) -> str:
    """Create the single table with its stream (NEW_AND_OLD_IMAGES); returns the stream ARN."""
    model = model or TableModel()
    response = dynamodb.create_table(
        TableName=table_name,
        **_key_schema(model),
        BillingMode="PAY_PER_REQUEST",
        StreamSpecification={"StreamEnabled": True, "StreamViewType": STREAM_VIEW_TYPE},
    )
    _wait_until_active(dynamodb, table_name)
    return response["TableDescription"].get("LatestStreamArn", "")


def create_state_table(
    dynamodb: DynamoDBClient,
    table_name: str,
    ledger: LedgerModel | None = None,
    *,
    ttl: bool = True,
) -> None:
    """Create the state table: the ledger's keys, on demand, no stream, TTL on ``expiresAt``.

    No stream, because its writes must never reach a stream (the handler would be invoked for
    its own bookkeeping). ``ttl=False`` leaves TTL to the caller (an endpoint without it).
    """
    ledger = ledger or LedgerModel()
    dynamodb.create_table(
        TableName=table_name, **_key_schema(ledger), BillingMode="PAY_PER_REQUEST"
    )
    _wait_until_active(dynamodb, table_name)
    if ttl:
        dynamodb.update_time_to_live(
            TableName=table_name,
            TimeToLiveSpecification={"Enabled": True, "AttributeName": ledger.expires_attr},
        )


def _wait_until_active(dynamodb: DynamoDBClient, table_name: str) -> None:
    dynamodb.get_waiter("table_exists").wait(
        TableName=table_name, WaiterConfig={"Delay": 1, "MaxAttempts": 30}
    )


# -- checks of existing tables (pure) ---------------------------------------------------------


def _keys_problem(table: dict[str, Any], model: TableModel | LedgerModel) -> str | None:
    keys = {key["KeyType"]: key["AttributeName"] for key in table.get("KeySchema", [])}
    types = {a["AttributeName"]: a["AttributeType"] for a in table.get("AttributeDefinitions", [])}
    wanted = {"HASH": model.pk_attr, "RANGE": model.sk_attr}
    if keys != wanted or any(types.get(name) != "S" for name in wanted.values()):
        shown = ", ".join(f"{kind} {name} ({types.get(name, '?')})" for kind, name in keys.items())
        return (
            f"its key schema is {shown or 'unknown'}, not HASH {model.pk_attr} (S), "
            f"RANGE {model.sk_attr} (S)"
        )
    return None


def check_registration_table(table: dict[str, Any], model: TableModel) -> None:
    """Raise :class:`TableShapeError` unless the table has the model's keys and an images stream."""
    name = table.get("TableName", "?")
    problem = _keys_problem(table, model)
    if problem is not None:
        raise TableShapeError(
            f"registration table {name}: {problem}",
            "point --table-name and the --pk-attribute/--sk-attribute flags at the "
            "registration table",
        )
    stream = table.get("StreamSpecification") or {}
    enable = (
        f"aws dynamodb update-table --table-name {name} --stream-specification "
        f"StreamEnabled=true,StreamViewType={STREAM_VIEW_TYPE} (or enable it in StatefulStack "
        "and deploy); init never changes an existing registration table"
    )
    if not stream.get("StreamEnabled"):
        raise TableShapeError(f"registration table {name} has no stream", enable)
    if stream.get("StreamViewType") != STREAM_VIEW_TYPE:
        raise TableShapeError(
            f"registration table {name} streams {stream.get('StreamViewType')}, the handler "
            f"needs {STREAM_VIEW_TYPE} (REMOVE records must carry the old image)",
            "disable the stream, then " + enable,
        )


def check_state_table(table: dict[str, Any], ledger: LedgerModel) -> None:
    """Raise :class:`TableShapeError` unless the table has the ledger's keys and no stream."""
    name = table.get("TableName", "?")
    problem = _keys_problem(table, ledger)
    if problem is not None:
        raise TableShapeError(
            f"state table {name}: {problem}",
            "choose another --state-table, or delete this one if it holds nothing else",
        )
    if (table.get("StreamSpecification") or {}).get("StreamEnabled"):
        raise TableShapeError(
            f"state table {name} has a stream; its writes must never reach a stream",
            f"aws dynamodb update-table --table-name {name} "
            "--stream-specification StreamEnabled=false",
        )


def ttl_step(description: dict[str, Any], table_name: str, ledger: LedgerModel) -> Step | None:
    """``ALREADY`` when TTL is on ``expiresAt``, ``None`` when it is off (enable it)."""
    status = description.get("TimeToLiveStatus", "DISABLED")
    attribute = description.get("AttributeName")
    if status in ("ENABLED", "ENABLING") and attribute == ledger.expires_attr:
        return Step.ALREADY
    if status in ("ENABLED", "ENABLING"):
        raise TableShapeError(
            f"state table {table_name} has TTL on {attribute}, the ledger needs "
            f"{ledger.expires_attr}",
            f"aws dynamodb update-time-to-live --table-name {table_name} "
            f"--time-to-live-specification Enabled=false,AttributeName={attribute}, "
            "then run init again",
        )
    if status == "DISABLING":
        raise TableShapeError(
            f"state table {table_name}: TTL is being disabled",
            "run init again once DescribeTimeToLive reports DISABLED (this can take an hour)",
        )
    return None


# -- init: create what is missing, check what exists --------------------------------------------


def ensure_tables(
    dynamodb: DynamoDBClient,
    tables: TableSettings,
    ledger: LedgerModel | None = None,
    *,
    dry_run: bool = False,
) -> SetupReport:
    """Create the registration table and the state table if missing; finish the state table.

    Idempotent: on tables that are set up, only ``Describe*`` calls are made. An existing
    registration table is checked, never changed (:class:`TableShapeError` says what is wrong).
    """
    ledger = ledger or LedgerModel()
    registration = _describe(dynamodb, tables.table_name)
    if registration is not None:
        check_registration_table(registration, tables.model)
        registration_step = Step.EXISTED
    elif dry_run:
        registration_step = Step.WOULD_CREATE
    else:
        with aws_call("CreateTable"):
            create_table(dynamodb, tables.table_name, tables.model)
        registration_step = Step.CREATED

    name = tables.state_table
    state = _describe(dynamodb, name)
    if state is None and dry_run:
        would = Step.WOULD_ENABLE
        return SetupReport(registration_step, Step.WOULD_CREATE, would, would)
    if state is None:
        with aws_call("CreateTable"):
            create_state_table(dynamodb, name, ledger, ttl=False)
        state_step = Step.CREATED
    else:
        check_state_table(state, ledger)
        if state.get("TableStatus") == "CREATING":
            with aws_call("DescribeTable"):
                _wait_until_active(dynamodb, name)
        state_step = Step.EXISTED
    return SetupReport(
        registration_step,
        state_step,
        _ensure_ttl(dynamodb, name, ledger, dry_run=dry_run),
        _ensure_point_in_time_recovery(dynamodb, name, dry_run=dry_run),
    )


def _describe(dynamodb: DynamoDBClient, table_name: str) -> dict[str, Any] | None:
    try:
        with aws_call("DescribeTable"):
            return dict(dynamodb.describe_table(TableName=table_name)["Table"])
    except AwsError as exc:
        if exc.code == "ResourceNotFoundException":
            return None
        raise


def _ensure_ttl(
    dynamodb: DynamoDBClient, table_name: str, ledger: LedgerModel, *, dry_run: bool
) -> Step:
    with aws_call("DescribeTimeToLive"):
        response = dynamodb.describe_time_to_live(TableName=table_name)
    step = ttl_step(dict(response.get("TimeToLiveDescription", {})), table_name, ledger)
    if step is not None:
        return step
    if dry_run:
        return Step.WOULD_ENABLE
    try:
        with aws_call("UpdateTimeToLive"):
            dynamodb.update_time_to_live(
                TableName=table_name,
                TimeToLiveSpecification={"Enabled": True, "AttributeName": ledger.expires_attr},
            )
    except AwsError as exc:
        if exc.code == _UNSUPPORTED:
            return Step.UNSUPPORTED
        raise
    return Step.ENABLED


def _ensure_point_in_time_recovery(
    dynamodb: DynamoDBClient, table_name: str, *, dry_run: bool
) -> Step:
    try:
        with aws_call("DescribeContinuousBackups"):
            response = dynamodb.describe_continuous_backups(TableName=table_name)
        recovery = response["ContinuousBackupsDescription"].get(
            "PointInTimeRecoveryDescription", {}
        )
        if recovery.get("PointInTimeRecoveryStatus") == "ENABLED":
            return Step.ALREADY
        if dry_run:
            return Step.WOULD_ENABLE
        with aws_call("UpdateContinuousBackups"):
            dynamodb.update_continuous_backups(
                TableName=table_name,
                PointInTimeRecoverySpecification={"PointInTimeRecoveryEnabled": True},
            )
    except AwsError as exc:
        if exc.code == _UNSUPPORTED:
            return Step.UNSUPPORTED
        raise
    return Step.ENABLED
