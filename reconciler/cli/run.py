"""``reconciler run --once``: one reconciliation pass, a JSON summary as the last line of stdout.

Exit codes: 0 success, 1 failure (the summary says ``"failed": true``), 2 invalid settings,
3 the brake tripped (corrections were planned and reported, none written).
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Mapping
from typing import Any

from reconciler.cli.exit_codes import ExitCode
from reconciler.kernel.aws import Clients, client_config, session_from_env
from reconciler.kernel.errors import ConfigError
from reconciler.kernel.logs import configure_logging
from reconciler.kernel.settings import Source, add_log_arguments, parse_log_settings
from reconciler.reconcile.bootstrap import build_reconciler
from reconciler.reconcile.settings import add_run_arguments, parse_run_settings
from reconciler.reconcile.summary import PassSummary


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run",
        help="one race-safe reconciliation pass over every event (or one, or one shard)",
        description="Recount attendees per event and correct drifted counters without racing "
        "the live stream handler. The last line on stdout is a JSON summary.",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="run a single pass and exit (the only mode of `run`; `serve` repeats passes)",
    )
    add_run_arguments(parser)
    add_log_arguments(parser)
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    source = Source(args, env)
    log_settings = parse_log_settings(source)
    settings = parse_run_settings(source)
    configure_logging(log_settings.format, log_settings.level)
    clients = Clients(
        session=session_from_env(env), config=client_config(max_attempts=settings.aws_max_attempts)
    )
    try:
        reconciler = build_reconciler(settings, clients)
    except ValueError as exc:  # botocore refuses a malformed endpoint URL when creating a client
        raise ConfigError("AWS_ENDPOINT_URL", str(exc)) from exc
    try:
        summary = reconciler.run_pass()
    finally:
        reconciler.close()
    if summary.failed:
        print(f"reconciler run: failed: {summary.error}", file=sys.stderr)
    elif summary.brake_tripped:
        print(f"reconciler run: brake tripped: {summary.brake.reason}", file=sys.stderr)
    print(json.dumps(summary.to_dict(), sort_keys=True), flush=True)
    return exit_code(summary)


def exit_code(summary: PassSummary) -> ExitCode:
    """Bad configuration (2) was raised before the pass; here only the pass's own outcome."""
    if summary.failed:
        return ExitCode.FAILURE
    if summary.brake_tripped:
        return ExitCode.BRAKE
    return ExitCode.OK
