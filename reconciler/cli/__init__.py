"""``reconciler`` command line: parses, validates settings once, dispatches to a command.

Exit codes (:class:`reconciler.cli.exit_codes.ExitCode`): 0 success, 1 failure, 2 bad usage or
configuration, 3 the brake tripped, 4 a pass stopped before it completed (signal or deadline).
Every parser is a :class:`reconciler.cli.parser.CommandParser`, so conventions hold everywhere.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
from collections.abc import Mapping, Sequence

import shtab

from reconciler.cli.exit_codes import ExitCode
from reconciler.cli.parser import CommandParser
from reconciler.kernel.errors import ConfigError

COMMANDS: tuple[str, ...] = (
    "init",
    "run",
    "pump",
    "replay",
    "demo",
    "serve",
    "alarms",
    "doctor",
)
"""One module each under ``reconciler.cli``. Each exposes ``register(subparsers)``, which adds its
parser and sets ``handler`` to ``(args, env) -> ExitCode``; ``env`` is the process environment,
read once here. Each command module is its own composition root."""


def build_parser() -> argparse.ArgumentParser:
    parser = CommandParser(
        prog="reconciler",
        description="Keeps DynamoDB attendeeCount counters exact beside the live stream handler.",
    )
    shtab.add_argument_to(parser, ["--print-completion"], help="print a shell completion script")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)
    for name in COMMANDS:
        module = importlib.import_module(f"reconciler.cli.{name}")
        module.register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None, env: Mapping[str, str] | None = None) -> int:
    parser = build_parser()
    args, unknown = parser.parse_known_args(argv)
    if unknown:
        # Reported by the command they were given to, with its usage, not the top level's.
        args.command_parser.error(f"unrecognized arguments: {' '.join(unknown)}")
    environment = dict(os.environ if env is None else env)
    try:
        code: int = args.handler(args, environment)
    except ConfigError as exc:
        print(f"reconciler {args.command}: invalid setting {exc}", file=sys.stderr)
        return ExitCode.USAGE
    except KeyboardInterrupt:
        return ExitCode.INTERRUPTED
    return code
