"""``reconciler demo``: the whole loop (live path, repair, serve) on an embedded moto server."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from reconciler.cli.exit_codes import ExitCode
from reconciler.devtools.demo import DemoOptions, run_demo
from reconciler.kernel.errors import ReconcilerError
from reconciler.kernel.logs import configure_logging
from reconciler.kernel.settings import LogFormat, Source, parse_log_settings


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="the whole loop locally: traffic, pump and handler with faults, a repair pass, serve, "
        "and a hot event repaired while its traffic continues",
        description="Starts moto in-process, creates the table with its stream, writes events "
        "and attendee traffic, pumps the stream through the stream handler with duplicated and "
        "dropped batches, hand-edits a counter, shows the drift, repairs it with one "
        "reconciliation pass and runs the scheduled worker briefly. Then a hot event, one "
        "registration every 0.2 s, loses a batch that replay applies again from the on-failure "
        "queue, and gets a hand-edited counter that ledger-mode passes repair, both while its "
        "registrations continue. Needs no AWS account. Exits 0 only when every count is exact "
        "at the end.",
    )
    parser.add_argument("--seed", help="seed of the generated traffic (7)")
    parser.add_argument(
        "--settle-seconds", help="settle window of the reconciliation pass (2s in the demo)"
    )
    parser.add_argument(
        "--serve-seconds", help="how long the scheduled worker runs at the end (6s; 0 skips it)"
    )
    parser.add_argument(
        "--metrics-port",
        help="port of the worker's /metrics (0 = any free one; 9464 suits "
        "deploy/prometheus/prometheus.yml)",
    )
    parser.add_argument("--log-level", help="debug, info, warning (default), error")
    parser.add_argument(
        "--log-format", help="console (default: the demo is read by a person), json, auto"
    )
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    source = Source(args, env)
    level = source.choice("--log-level", "warning", ("debug", "info", "warning", "error"))
    # The demo is read by a person even when piped into a file or a CI log: its warnings (the
    # injected drops it narrates) read as lines, not JSON objects between the narrative's.
    given = source.optional_string("--log-format") is not None
    log_format: LogFormat = parse_log_settings(source).format if given else "console"
    defaults = DemoOptions()
    options = DemoOptions(
        seed=source.integer("--seed", defaults.seed),
        settle_seconds=source.duration("--settle-seconds", defaults.settle_seconds),
        serve_seconds=source.duration("--serve-seconds", defaults.serve_seconds),
        metrics_port=source.integer("--metrics-port", 0, minimum=0, maximum=65535),
    )
    configure_logging(log_format, level)
    try:
        result = run_demo(sys.stdout, options)
    except ModuleNotFoundError as exc:
        if exc.name != "moto" and not str(exc.name).startswith("moto."):
            raise
        print(
            "reconciler demo: needs moto, a development dependency: pip install -e '.[dev]'",
            file=sys.stderr,
        )
        return ExitCode.FAILURE
    except ReconcilerError as exc:  # an AWS error on the embedded moto, a stalled hot act
        print(f"reconciler demo: {exc}", file=sys.stderr)
        return ExitCode.FAILURE
    return ExitCode.OK if result.all_in_sync else ExitCode.FAILURE
