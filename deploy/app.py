"""The CDK app: ``python -m deploy.app --out cdk.out`` writes every stack's template.

The stacks are environment-agnostic, so synth needs no AWS account, credentials or network;
the account and region are bound at ``cdk deploy`` time. ``cdk.json`` runs this module for the
cdk CLI (``cdk deploy StatefulStack``), which passes its output directory and context itself.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from aws_cdk import App

from alarms.runbooks import check_runbook_url_template
from deploy.export_mode import export_mode, export_prefix
from deploy.export_snapshot_stack import EXPORT_SNAPSHOT_JOB_CONTEXT, ExportSnapshotStack
from deploy.monitoring_stack import MonitoringStack
from deploy.reconciler_stack import RECONCILER_CLOUDWATCH_NAMESPACE, ReconcilerStack
from deploy.stateful_stack import StatefulStack
from deploy.stateless_stack import StatelessStack
from deploy.tables import (
    EXISTING_STATE_TABLE_NAME_CONTEXT,
    EXISTING_TABLE_NAME_CONTEXT,
    EXISTING_TABLE_STREAM_ARN_CONTEXT,
    TABLE_NAME_CONTEXT,
    ExistingTable,
    existing_table,
)
from reconciler.kernel import deployment_spec as deployed
from reconciler.kernel.errors import ConfigError

RUNBOOK_URL_TEMPLATE_CONTEXT = "runbookUrlTemplate"


@dataclass(frozen=True, slots=True)
class Stacks:
    app: App
    stateful: StatefulStack
    stateless: StatelessStack
    monitoring: MonitoringStack
    reconciler: ReconcilerStack
    export_snapshot: ExportSnapshotStack | None = None
    """The Spark engine's Glue job, with ``-c exportSnapshotJob=true``."""


def build_app(outdir: str | None = None, context: Mapping[str, object] | None = None) -> Stacks:
    """Every stack of the system, in deployment order (the guide's order, as dependencies)."""
    app = App(outdir=outdir, context=dict(context or {}))
    existing = _existing_table(app)
    table_name = app.node.try_get_context(TABLE_NAME_CONTEXT)
    stateful = StatefulStack(
        app,
        "StatefulStack",
        table_name=str(table_name) if table_name else None,
        existing=existing,
        description=(
            "Registrations table with its stream, the state table (the counter's ledger), "
            "and the bucket (deploy first)"
            if existing is None
            else f"The bucket, and the exports of the adopted table {existing.name} (deploy first)"
        ),
    )
    stateless = StatelessStack(
        app,
        "StatelessStack",
        existing=existing,
        description="updateAttendeeCounter stream handler and its event source mapping",
    )
    # Only Fn.importValue links them, which CDK cannot see: state the order explicitly.
    stateless.add_stack_dependency(stateful)
    monitoring = MonitoringStack(
        app,
        "MonitoringStack",
        handler_function_name=stateless.handler_function_name,
        handler_timeout_seconds=stateless.handler_timeout_seconds,
        on_failure_queue_name=stateless.on_failure_queue_name,
        reconciler_namespace=RECONCILER_CLOUDWATCH_NAMESPACE,
        email_subscriptions=_list_context(app, "alarmEmail"),
        runbook_url_template=_runbook_url_template(app),
        description="CloudWatch alarms on the stream handler and the reconciler, and their topic",
    )
    # The alarms name the function and the queue: create them first.
    monitoring.add_stack_dependency(stateless)
    reconciler = ReconcilerStack(
        app,
        deployed.RECONCILER_STACK_NAME,
        desired_count=int(str(app.node.try_get_context("reconcilerDesiredCount") or 1)),
        handler_function_name=stateless.handler_function_name,
        on_failure_queue_name=stateless.on_failure_queue_name,
        cloudwatch_namespace=RECONCILER_CLOUDWATCH_NAMESPACE,
        existing=existing,
        # -c reconcilerFromExport=new: recount from a fresh export in the bucket each pass.
        from_export=export_mode(app.node.try_get_context),
        description="reconciler serve on ECS Fargate: keeps attendeeCount exact and replays "
        "the batches the stream mapping dropped",
    )
    reconciler.add_stack_dependency(stateful)
    # It replays the queue the StatelessStack creates (by name, so no export shows the order).
    reconciler.add_stack_dependency(stateless)
    export_snapshot = None
    if str(app.node.try_get_context(EXPORT_SNAPSHOT_JOB_CONTEXT) or "").lower() == "true":
        export_snapshot = ExportSnapshotStack(
            app,
            "ExportSnapshotStack",
            prefix=export_prefix(app.node.try_get_context),
            description="Glue job of reconciler --engine spark: the snapshot table of a "
            "DynamoDB export, beside it in the bucket",
        )
        export_snapshot.add_stack_dependency(stateful)
    return Stacks(
        app=app,
        stateful=stateful,
        stateless=stateless,
        monitoring=monitoring,
        reconciler=reconciler,
        export_snapshot=export_snapshot,
    )


def _existing_table(app: App) -> ExistingTable | None:
    """The table to adopt (``-c existingTableName=... -c existingTableStreamArn=...``)."""
    keys = (
        EXISTING_TABLE_NAME_CONTEXT,
        EXISTING_TABLE_STREAM_ARN_CONTEXT,
        EXISTING_STATE_TABLE_NAME_CONTEXT,
        TABLE_NAME_CONTEXT,
    )
    return existing_table({key: app.node.try_get_context(key) for key in keys})


def _list_context(app: App, key: str) -> list[str]:
    """A comma-separated context value (``-c alarmEmail=a@x,b@y``) as a list."""
    value = app.node.try_get_context(key)
    if not value:
        return []
    items = value if isinstance(value, list) else str(value).split(",")
    return [str(item).strip() for item in items if str(item).strip()]


def _runbook_url_template(app: App) -> str:
    """``-c runbookUrlTemplate=https://wiki.example.com/runbooks/{name}``, checked up front."""
    value = app.node.try_get_context(RUNBOOK_URL_TEMPLATE_CONTEXT)
    if value is None or str(value).strip() == "":
        return deployed.RUNBOOK_URL_TEMPLATE
    return check_runbook_url_template(str(value), f"context {RUNBOOK_URL_TEMPLATE_CONTEXT}")


def _context_pair(text: str) -> tuple[str, str]:
    key, sep, value = text.partition("=")
    if not sep or not key:
        raise argparse.ArgumentTypeError(f"expected KEY=VALUE, got {text!r}")
    return key, value


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy.app", description=__doc__)
    parser.add_argument(
        "--out",
        help="cloud assembly directory; omitted under the cdk CLI, which passes CDK_OUTDIR",
    )
    parser.add_argument(
        "-c",
        "--context",
        action="append",
        type=_context_pair,
        default=[],
        metavar="KEY=VALUE",
        help="CDK context value (repeatable): tableName=NAME (the state table is then "
        "NAME-state); or existingTableName=NAME with existingTableStreamArn=ARN to adopt a "
        "table the app did not create (its state table NAME-state, or "
        "existingStateTableName=NAME); reconcilerDesiredCount=1|2, "
        "alarmEmail=ADDRESS[,ADDRESS], runbookUrlTemplate=URL (with {name}, the alarm key), "
        "reconcilerFromExport=new (recount from a DynamoDB export in the bucket each pass), "
        "exportSnapshotJob=true (the Glue job of --engine spark), exportPrefix=PREFIX (of the "
        "exports in the bucket, for both; default exports)",
    )
    args = parser.parse_args(argv)
    try:
        stacks = build_app(args.out, dict(args.context))
    except ConfigError as exc:
        print(f"{parser.prog}: {exc}", file=sys.stderr)
        return 2
    assembly = stacks.app.synth()
    for stack in assembly.stacks:
        print(f"{stack.stack_name}: {stack.template_full_path}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
