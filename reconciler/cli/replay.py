"""``reconciler replay``: re-applies the batches Lambda dropped, from its on-failure queue.

Reads Lambda's on-failure messages for the table's stream from SQS, reads exactly each
message's range from the stream and runs it through the deployed handler's code; the ledger
makes that exact however much of the batch was applied before. The last stdout line is a JSON
summary. Exit codes: 0 every message replayed (or, with ``--dry-run``, readable), 1 some
message was kept (its range left the stream, it was malformed, or the handler refused it),
2 invalid settings. On a terminal it shows the messages as they go and a result table; with
``--json`` or when stdout is not a terminal, stdout is one JSON document.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import signal
import sys
import threading
from collections.abc import Mapping
from typing import Any

from rich.console import Console

from reconciler.cli.exit_codes import ExitCode
from reconciler.cli.handler_options import add_handler_output_arguments, handler_metrics
from reconciler.cli.human import for_a_person, print_replay
from reconciler.cli.progress import replay_progress
from reconciler.handler.entry import parse_handler_settings
from reconciler.handler.replay_queue import ReplayJob, ReplaySummary, handler_replayer
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
        "replay",
        help="re-apply the stream batches Lambda dropped, from its on-failure SQS queue",
        description="Reads Lambda's on-failure messages for the DynamoDB stream, reads exactly "
        "each dropped range from the stream and runs it through the stream handler; a message "
        "is deleted only after its whole range was applied. On a terminal it shows its progress "
        "and a result table; with --json, or when stdout is not a terminal, stdout is one JSON "
        "document (the summary) and nothing else.",
    )
    add_table_arguments(parser)
    parser.add_argument("--queue-url", help="the on-failure SQS queue (RECONCILER_QUEUE_URL)")
    parser.add_argument(
        "--dry-run",
        action="store_true",
        default=None,
        help="read and report each range; write nothing, delete nothing",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        default=None,
        help="drain the queue once and exit (default: long-poll until SIGTERM or Ctrl-C)",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the summary as one JSON document (the default when stdout is not a terminal)",
    )
    add_handler_output_arguments(parser)
    add_log_arguments(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    source = Source(args, env)
    log_settings = parse_log_settings(source)
    handler_settings = parse_handler_settings(source)
    queue_url = source.required_string("--queue-url")
    dry_run = source.boolean("--dry-run", False)
    once = source.boolean("--once", False)
    totals = handler_metrics(source, handler_settings)
    configure_logging(log_settings.format, log_settings.level)
    # botocore's debug log prints GetRecords bodies: attendee images, i.e. personal data.
    logging.getLogger("botocore").setLevel(logging.WARNING)

    clients = Clients(session=session_from_env(env), config=client_config(max_attempts=4))
    try:
        replayer = handler_replayer(handler_settings, clients, totals)
    except ValueError as exc:  # botocore refuses a malformed endpoint URL when creating a client
        raise ConfigError("AWS_ENDPOINT_URL", str(exc)) from exc
    console = Console() if for_a_person(sys.stdout, args.json) else None
    with contextlib.nullcontext(None) if console is None else replay_progress(console) as shown:
        job = ReplayJob(clients.sqs(), queue_url, replayer, dry_run=dry_run, on_handled=shown)
        try:
            summary = job.drain() if once else _follow(job)
            code = exit_code(summary)
        except ReconcilerError as exc:
            print(f"reconciler replay: {exc}", file=sys.stderr)
            summary, code = job.summary, ExitCode.FAILURE
    if console is None:
        print(json.dumps(summary.to_dict(totals), sort_keys=True), flush=True)
    else:
        figures = summary.to_dict(totals)
        print_replay(console, summary, figures["applied"], figures["duplicates"])
    return code


def _follow(job: ReplayJob) -> ReplaySummary:
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    try:
        return job.follow(stop.is_set)
    except KeyboardInterrupt:
        return job.summary


def exit_code(summary: ReplaySummary) -> ExitCode:
    return ExitCode.FAILURE if summary.trimmed or summary.failed else ExitCode.OK
