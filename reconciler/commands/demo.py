"""``reconciler demo``: the live path end to end on an embedded moto server."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Mapping
from typing import Any

from reconciler.demo import DemoOptions, run_demo
from reconciler.logs import configure_logging
from reconciler.settings import Source, parse_log_settings


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "demo",
        help="run the live loop locally: moto, registrations, the pump and the handler",
        description="Starts moto in-process, creates the table with its stream, writes events "
        "and attendee traffic, pumps the stream through the stream handler with duplicated "
        "batches and prints stored vs true counts per event. Needs no AWS account.",
    )
    parser.add_argument("--seed", help="seed of the generated traffic (7)")
    parser.add_argument("--log-level", help="debug, info, warning (default), error")
    parser.add_argument("--log-format", help="auto (console on a TTY, else JSON), json, console")
    parser.set_defaults(handler=handle)


def handle(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    source = Source(args, env)
    level = source.choice("--log-level", "warning", ("debug", "info", "warning", "error"))
    log_format = parse_log_settings(source).format
    seed = source.integer("--seed", DemoOptions().seed)
    configure_logging(log_format, level)
    try:
        result = run_demo(sys.stdout, DemoOptions(seed=seed))
    except ModuleNotFoundError as exc:
        if exc.name != "moto" and not str(exc.name).startswith("moto."):
            raise
        print(
            "reconciler demo: needs moto, a development dependency: pip install -e '.[dev]'",
            file=sys.stderr,
        )
        return 1
    return 0 if result.all_in_sync else 1
