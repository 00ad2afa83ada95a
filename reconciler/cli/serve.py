"""``reconciler serve``: passes on a schedule, Prometheus metrics, health probes, leader lease.

Runs until SIGTERM or SIGINT: the first stops scheduling and lets the pass in progress finish
its current event (exit 0 within ``--shutdown-timeout``, else 1); a second exits at once.
Exit 2 for invalid settings (an audit file that cannot be appended is one), 1 when the HTTP
port cannot be opened.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from collections.abc import Mapping
from types import FrameType
from typing import Any

from prometheus_client import CollectorRegistry

from reconciler.cli.exit_codes import ExitCode
from reconciler.kernel.aws import Clients, client_config, session_from_env
from reconciler.kernel.errors import ConfigError
from reconciler.kernel.logs import configure_logging, get_logger
from reconciler.kernel.settings import Source, add_log_arguments, parse_log_settings
from reconciler.reconcile.settings import add_run_arguments, parse_run_settings
from reconciler.serve.app import ServeApp, build_app
from reconciler.serve.http import PortUnavailableError
from reconciler.serve.settings import add_serve_arguments, parse_serve_settings

log = get_logger(__name__)


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "serve",
        help="run passes on a schedule with /metrics, /healthz, /readyz and a leader lease",
        description="Long-running worker: reconciliation passes on an interval or cron "
        "schedule, Prometheus metrics and health probes on one port, a DynamoDB leader lease "
        "so several replicas never run passes at once, and a lag gate on the stream handler.",
    )
    add_run_arguments(parser)
    add_serve_arguments(parser)
    add_log_arguments(parser)
    parser.set_defaults(handler=handle)


def install_signal_handlers(app: ServeApp) -> None:
    """First SIGTERM/SIGINT: graceful stop. Second: exit at once (an operator insists)."""

    def handle_signal(signum: int, _frame: FrameType | None) -> None:
        if app.stop_requested:
            os.write(2, f"reconciler serve: second signal {signum}, exiting now\n".encode())
            os._exit(128 + signum)
        app.request_stop()

    signal.signal(signal.SIGTERM, handle_signal)
    signal.signal(signal.SIGINT, handle_signal)


def handle(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    source = Source(args, env)
    log_settings = parse_log_settings(source)
    run = parse_run_settings(source)
    settings = parse_serve_settings(source, run)
    configure_logging(log_settings.format, log_settings.level)
    # No region (or only the SDK-wide AWS_REGION) is a setting error, as in `run`, not a
    # botocore traceback from the first client created.
    clients = Clients(
        session=session_from_env(env), config=client_config(max_attempts=run.aws_max_attempts)
    )
    try:
        app = build_app(run, settings, clients, CollectorRegistry())
        install_signal_handlers(app)
        app.start()
    except (OSError, PortUnavailableError) as exc:  # the port is taken, the audit file vanished
        print(f"reconciler serve: cannot start: {exc}", file=sys.stderr)
        return ExitCode.FAILURE
    except ValueError as exc:  # botocore refuses a malformed endpoint URL when creating a client
        raise ConfigError("AWS_ENDPOINT_URL", str(exc)) from exc
    app.wait()
    log.info("shutdown_requested")
    if not app.shutdown():
        # The pass thread is still inside an event; the interpreter would wait for it at exit.
        sys.stderr.flush()
        os._exit(1)
    return ExitCode.OK
