"""Where the stacks find the tables: the StatefulStack's exports, or a table the app adopts.

By default the StatefulStack creates the registration table and the state table and exports
their names and the stream's ARN; the other stacks import them. With the context pair
``existingTableName`` and ``existingTableStreamArn`` the app adopts a registration table it did
not create (the registration system's own, with its data and its stream): no stack defines a
table, and every grant and the event source mapping name the given table, its state table
(``<name>-state`` as ``reconciler init`` creates it, or ``existingStateTableName``) and the given
stream. The pair is checked before anything is synthesized, so a typo fails the synth with one
line instead of a deployment with grants on a table that does not exist.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from aws_cdk import CfnRule, CfnRuleAssertion, Fn, Stack

from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.errors import ConfigError
from reconciler.kernel.ledger import default_state_table

EXISTING_TABLE_NAME_CONTEXT = "existingTableName"
EXISTING_TABLE_STREAM_ARN_CONTEXT = "existingTableStreamArn"
EXISTING_STATE_TABLE_NAME_CONTEXT = "existingStateTableName"
TABLE_NAME_CONTEXT = "tableName"

_TABLE_NAME = r"[A-Za-z0-9_.-]{3,255}"
_STREAM_ARN = re.compile(
    r"arn:(?P<partition>aws(?:-[a-z]+)*):dynamodb:(?P<region>[a-z]{2}(?:-[a-z]+)+-\d):"
    rf"(?P<account>\d{{12}}):table/(?P<table>{_TABLE_NAME})/stream/"
    r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}"
)
STREAM_ARN_SHAPE = "arn:aws:dynamodb:<region>:<account>:table/<name>/stream/<label>"


@dataclass(frozen=True, slots=True)
class ExistingTable:
    """A registration table the app adopts, as the operator named it (checked)."""

    name: str
    stream_arn: str
    state_table_name: str
    partition: str
    region: str
    account: str

    def arn(self, table_name: str) -> str:
        """A table's ARN in the adopted table's partition, region and account."""
        return f"arn:{self.partition}:dynamodb:{self.region}:{self.account}:table/{table_name}"


@dataclass(frozen=True, slots=True)
class TableRefs:
    """What a stack grants on and points at: names and ARNs, imported or given."""

    table_name: str
    table_arn: str
    stream_arn: str
    state_table_name: str
    state_table_arn: str


def existing_table(context: Mapping[str, object]) -> ExistingTable | None:
    """The adopted table from the CDK context, or None when the StatefulStack creates one.

    Raises :class:`ConfigError` naming the context key when only one of the pair is given, the
    stream ARN is not a DynamoDB stream ARN of that table, or ``tableName`` (which names a table
    the app creates) is given as well.
    """
    name = _text(context, EXISTING_TABLE_NAME_CONTEXT)
    stream_arn = _text(context, EXISTING_TABLE_STREAM_ARN_CONTEXT)
    state_name = _text(context, EXISTING_STATE_TABLE_NAME_CONTEXT)
    if not name and not stream_arn:
        if state_name:
            raise ConfigError(
                f"context {EXISTING_STATE_TABLE_NAME_CONTEXT}",
                f"needs {EXISTING_TABLE_NAME_CONTEXT} and {EXISTING_TABLE_STREAM_ARN_CONTEXT}",
            )
        return None
    if not name or not stream_arn:
        given, missing = (
            (EXISTING_TABLE_NAME_CONTEXT, EXISTING_TABLE_STREAM_ARN_CONTEXT)
            if name
            else (EXISTING_TABLE_STREAM_ARN_CONTEXT, EXISTING_TABLE_NAME_CONTEXT)
        )
        raise ConfigError(
            f"context {given}",
            f"needs {missing} too: an adopted table is named by both "
            "(aws dynamodb describe-table --table-name NAME --query Table.LatestStreamArn)",
        )
    if _text(context, TABLE_NAME_CONTEXT):
        raise ConfigError(
            f"context {TABLE_NAME_CONTEXT}",
            f"names a table the app creates, {EXISTING_TABLE_NAME_CONTEXT} one it adopts: "
            "give one of them",
        )
    if not re.fullmatch(_TABLE_NAME, name):
        raise ConfigError(f"context {EXISTING_TABLE_NAME_CONTEXT}", f"{name!r} is not a table name")
    match = _STREAM_ARN.fullmatch(stream_arn)
    if match is None:
        raise ConfigError(
            f"context {EXISTING_TABLE_STREAM_ARN_CONTEXT}",
            f"{stream_arn!r} is not a DynamoDB stream ARN ({STREAM_ARN_SHAPE})",
        )
    if match["table"] != name:
        raise ConfigError(
            f"context {EXISTING_TABLE_STREAM_ARN_CONTEXT}",
            f"the stream belongs to table {match['table']}, not "
            f"{EXISTING_TABLE_NAME_CONTEXT} {name}",
        )
    state_name = state_name or default_state_table(name)
    if not re.fullmatch(_TABLE_NAME, state_name) or state_name == name:
        raise ConfigError(
            f"context {EXISTING_STATE_TABLE_NAME_CONTEXT}",
            f"{state_name!r} is not a table name other than the registration table's",
        )
    return ExistingTable(
        name=name,
        stream_arn=stream_arn,
        state_table_name=state_name,
        partition=match["partition"],
        region=match["region"],
        account=match["account"],
    )


def table_refs(stack: Stack, existing: ExistingTable | None) -> TableRefs:
    """The tables as ``stack`` sees them: the StatefulStack's exports, or the adopted ones.

    Adopted, the stack also gets a rule that refuses to deploy outside the table's account and
    region, where every grant would name a table that is not there.
    """
    if existing is None:
        table_name = Fn.import_value(spec.TABLE_NAME_EXPORT)
        state_table_name = Fn.import_value(spec.STATE_TABLE_NAME_EXPORT)
        return TableRefs(
            table_name=table_name,
            table_arn=_local_table_arn(stack, table_name),
            stream_arn=Fn.import_value(spec.TABLE_STREAM_ARN_EXPORT),
            state_table_name=state_table_name,
            state_table_arn=_local_table_arn(stack, state_table_name),
        )
    require_table_environment(stack, existing)
    return TableRefs(
        table_name=existing.name,
        table_arn=existing.arn(existing.name),
        stream_arn=existing.stream_arn,
        state_table_name=existing.state_table_name,
        state_table_arn=existing.arn(existing.state_table_name),
    )


def require_table_environment(stack: Stack, existing: ExistingTable) -> None:
    """A CloudFormation rule: deploy only in the adopted table's account and region."""
    CfnRule(
        stack,
        "AdoptedTableEnvironment",
        assertions=[
            CfnRuleAssertion(
                assert_=Fn.condition_and(
                    Fn.condition_equals(stack.account, existing.account),
                    Fn.condition_equals(stack.region, existing.region),
                ),
                assert_description=f"The adopted table {existing.name} is in account "
                f"{existing.account}, region {existing.region}: deploy there",
            )
        ],
    )


def _local_table_arn(stack: Stack, table_name: str) -> str:
    """ARN of a table in the stack's own account and region, from its (imported) name."""
    return stack.format_arn(service="dynamodb", resource="table", resource_name=table_name)


def _text(context: Mapping[str, object], key: str) -> str:
    value = context.get(key)
    return "" if value is None else str(value).strip()
