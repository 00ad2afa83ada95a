"""``reconciler pump``: the stream handler fed by a local event source mapping.

Against a local endpoint (moto) there is no Lambda to run the handler; this command plays the
event source mapping: it reads the table's stream and invokes
``reconciler.handler.entry`` with Lambda's batching, retries and partial-failure contract,
optionally injecting duplicates, drops and delays. The last stdout line is a JSON summary of
what was delivered and what the handler counted.
"""

from __future__ import annotations

import argparse
import json
import logging
import signal
import sys
import threading
from collections.abc import Mapping
from typing import Any

from reconciler.cli.exit_codes import ExitCode
from reconciler.cli.handler_options import add_handler_output_arguments, handler_metrics
from reconciler.devtools.local_table import ensure_tables
from reconciler.devtools.pump import (
    STARTING_POSITIONS,
    FaultPlan,
    PumpConfig,
    handler_pump,
    stream_arn_for,
)
from reconciler.handler.entry import HandlerSettings, parse_handler_settings
from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.aws import Clients, client_config, session_from_env
from reconciler.kernel.errors import ConfigError, ReconcilerError
from reconciler.kernel.logs import configure_logging
from reconciler.kernel.settings import (
    Source,
    add_log_arguments,
    add_table_arguments,
    parse_log_settings,
)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "pump",
        help="feed the table's stream through the stream handler, as Lambda would (local use)",
        description="A local event source mapping: reads the DynamoDB stream and invokes the "
        "stream handler with Lambda's batching, retries and partial batch responses. Meant for "
        "a local endpoint such as moto; in AWS the real mapping does this.",
    )
    add_table_arguments(parser)
    parser.add_argument("--endpoint-url", help="DynamoDB endpoint, e.g. http://127.0.0.1:5000")
    parser.add_argument(
        "--create-table",
        action="store_true",
        default=None,
        help="create the table with its stream first if it does not exist (local endpoints)",
    )
    parser.add_argument(
        "--follow",
        action="store_true",
        default=None,
        help="keep polling for new records until interrupted (default: drain and exit)",
    )
    mapping = parser.add_argument_group("event source mapping (defaults: the deployed ones)")
    mapping.add_argument("--batch-size", help=f"records per invocation ({spec.BATCH_SIZE})")
    mapping.add_argument(
        "--batching-window", help=f"max wait to fill a batch ({spec.BATCHING_WINDOW_SECONDS}s)"
    )
    mapping.add_argument("--max-retries", help=f"retries per batch ({spec.MAX_RETRY_ATTEMPTS})")
    mapping.add_argument(
        "--no-bisect",
        dest="bisect",
        action="store_false",
        default=None,
        help="do not split a batch in halves when the handler raises",
    )
    mapping.add_argument("--starting-position", help="TRIM_HORIZON (default) or LATEST")
    mapping.add_argument("--poll-interval", help="follow mode: idle pause between polls (1s)")
    mapping.add_argument(
        "--parallelization-factor",
        help="concurrent batches per shard, 1-10 (1); order is then kept per item only",
    )
    mapping.add_argument(
        "--split-hot-key",
        help="a partition key value (e.g. slug#ATTENDEE) whose items are spread over two "
        "concurrently processed shards, as a split for heat does",
    )
    faults = parser.add_argument_group("fault injection (batches numbered from 0)")
    faults.add_argument("--duplicate-batches", help="comma-separated batches delivered twice")
    faults.add_argument("--drop-batches", help="comma-separated batches never delivered")
    faults.add_argument("--delay-batches", help="comma-separated batches delivered late")
    faults.add_argument("--delay", help="how late a delayed batch is delivered (1s)")
    faults.add_argument("--duplicate-rate", help="share of batches delivered twice (0..1)")
    faults.add_argument("--drop-rate", help="share of batches never delivered (0..1)")
    faults.add_argument("--delay-rate", help="share of batches delivered late (0..1)")
    faults.add_argument("--fault-seed", help="seed for the fault rates (0)")
    parser.add_argument(
        "--on-failure-queue-url",
        help="SQS queue that receives Lambda's on-failure message for every dropped batch "
        "(what `reconciler replay` reads)",
    )
    add_handler_output_arguments(parser)
    add_log_arguments(parser)
    parser.set_defaults(handler=handle)


def parse_pump_config(source: Source) -> PumpConfig:
    position = source.choice(
        "--starting-position",
        spec.STARTING_POSITION.lower(),
        tuple(p.lower() for p in STARTING_POSITIONS),
    ).upper()
    return PumpConfig(
        batch_size=source.integer("--batch-size", spec.BATCH_SIZE, minimum=1, maximum=10000),
        batching_window=source.duration("--batching-window", spec.BATCHING_WINDOW_SECONDS),
        max_retries=source.integer(
            "--max-retries", spec.MAX_RETRY_ATTEMPTS, minimum=0, maximum=10000
        ),
        bisect_on_error=source.boolean("--bisect", spec.BISECT_BATCH_ON_ERROR),
        starting_position=position,
        poll_interval=source.duration("--poll-interval", 1.0, minimum=0.01),
        parallelization_factor=source.integer("--parallelization-factor", 1, minimum=1, maximum=10),
        split_hot_key=source.optional_string("--split-hot-key"),
    )


def parse_fault_plan(source: Source) -> FaultPlan:
    return FaultPlan(
        duplicate_batches=_indexes(source, "--duplicate-batches"),
        drop_batches=_indexes(source, "--drop-batches"),
        delay_batches=_indexes(source, "--delay-batches"),
        delay_seconds=source.duration("--delay", 1.0),
        duplicate_rate=source.number("--duplicate-rate", 0.0, minimum=0.0, maximum=1.0),
        drop_rate=source.number("--drop-rate", 0.0, minimum=0.0, maximum=1.0),
        delay_rate=source.number("--delay-rate", 0.0, minimum=0.0, maximum=1.0),
        seed=source.integer("--fault-seed", 0),
    )


def _indexes(source: Source, flag: str) -> frozenset[int]:
    label, _ = source.raw(flag)
    values = source.string_list(flag, ())
    try:
        indexes = frozenset(int(value) for value in values)
    except ValueError:
        raise ConfigError(label, f"must be comma-separated batch numbers, got {values!r}") from None
    if any(index < 0 for index in indexes):
        raise ConfigError(label, "batch numbers start at 0")
    return indexes


def handle(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    source = Source(args, env)
    log_settings = parse_log_settings(source)
    handler_settings = parse_handler_settings(source)
    config = parse_pump_config(source)
    faults = parse_fault_plan(source)
    totals = handler_metrics(source, handler_settings)
    endpoint = source.string("--endpoint-url")
    configure_logging(log_settings.format, log_settings.level)
    if log_settings.level == "debug":
        # botocore's debug log prints GetRecords bodies: attendee images, i.e. personal data.
        logging.getLogger("botocore").setLevel(logging.WARNING)

    clients = Clients(
        session=session_from_env(env), config=client_config(max_attempts=4), endpoint_url=endpoint
    )
    table_name = handler_settings.table.table_name
    try:
        if source.boolean("--create-table", False):
            _create_if_missing(clients, table_name, handler_settings)
        stream_arn = stream_arn_for(clients.dynamodb(), table_name)
    except ReconcilerError as exc:
        print(f"reconciler pump: {exc}", file=sys.stderr)
        return ExitCode.FAILURE

    pump = handler_pump(
        handler_settings,
        clients,
        stream_arn,
        totals,
        config=config,
        faults=faults,
        on_failure_queue_url=source.string("--on-failure-queue-url"),
    )
    try:
        if source.boolean("--follow", False):
            stop = threading.Event()
            signal.signal(signal.SIGTERM, lambda *_: stop.set())
            try:
                stats = pump.follow(stop.is_set)
            except KeyboardInterrupt:
                stats = pump.stats
        else:
            stats = pump.drain()
    except ReconcilerError as exc:
        print(f"reconciler pump: {exc}", file=sys.stderr)
        return ExitCode.FAILURE
    summary = {"table": table_name, "pump": stats.to_dict(), "handler": totals.totals}
    print(json.dumps(summary, sort_keys=True), flush=True)
    return ExitCode.OK


def _create_if_missing(clients: Clients, table_name: str, settings: HandlerSettings) -> None:
    """The registration table and the state table the handler keeps its ledger in, as
    ``reconciler init`` sets them up (an existing table is checked, never changed)."""
    ensure_tables(clients.dynamodb(), settings.table)
