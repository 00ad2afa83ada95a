"""``reconciler run --once``: one reconciliation pass. On a terminal, a progress display and a
result table; with ``--json`` or when stdout is not a terminal, the summary as one JSON document.

Exit codes: 0 success, 1 failure (the summary says ``"failed": true``), 2 invalid settings,
3 the brake tripped (corrections were planned and reported, none written), 4 stopped before the
pass completed (SIGTERM, SIGINT or ``--deadline``; the summary is still printed).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from types import FrameType
from typing import Any

from rich.console import Console

from reconciler.cli.exit_codes import ExitCode
from reconciler.cli.human import for_a_person, print_pass
from reconciler.cli.progress import pass_progress
from reconciler.kernel.aws import Clients, client_config, session_from_env
from reconciler.kernel.errors import ConfigError
from reconciler.kernel.logs import configure_logging, get_logger
from reconciler.kernel.settings import Source, add_log_arguments, parse_log_settings
from reconciler.reconcile.bootstrap import build_reconciler
from reconciler.reconcile.pass_control import PassControl
from reconciler.reconcile.progress import NO_PROGRESS, PassProgress
from reconciler.reconcile.settings import add_run_arguments, parse_run_settings
from reconciler.reconcile.summary import NO_EVENTS_HINT, PassOutcome, PassSummary, StopReason


def register(subparsers: Any) -> None:
    parser: argparse.ArgumentParser = subparsers.add_parser(
        "run",
        help="one race-safe reconciliation pass over every event (or one, or one shard)",
        description="Recount attendees per event and correct drifted counters without racing "
        "the live stream handler. On a terminal it shows its progress and a result table; "
        "with --json, or when stdout is not a terminal, stdout is one JSON document (the "
        "summary) and nothing else. Logs go to stderr. Exit codes: 0 "
        "done, 1 failed, 2 invalid setting, 3 brake tripped, 4 stopped before the pass "
        "completed (SIGTERM, SIGINT or --deadline).",
    )
    parser.add_argument(
        "--once",
        action="store_true",
        help="run a single pass and exit (the only mode of `run`; `serve` repeats passes)",
    )
    parser.add_argument(
        "--deadline",
        metavar="DURATION",
        help="stop the pass at the next safe point once it has run this long (90s, 5m; env "
        "RECONCILER_DEADLINE; default none): the summary is printed and the exit code is 4",
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print the summary as one JSON document on stdout, with no progress display "
        "(the default when stdout is not a terminal)",
    )
    add_run_arguments(parser)
    add_log_arguments(parser)
    parser.set_defaults(handler=handle)


class StopRequest:
    """What may stop a pass early: a signal or the deadline. Checked by the pass between events
    (never between a write and its audit record), so a stop always leaves a complete summary."""

    def __init__(
        self, deadline_seconds: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._clock = clock
        self._due = clock() + deadline_seconds if deadline_seconds > 0 else None
        self._signalled = threading.Event()
        self.cause: str | None = None

    def signal(self, signum: int) -> None:
        """Safe from a signal handler: only sets a flag."""
        self.cause = self.cause or signal.Signals(signum).name
        self._signalled.set()

    @property
    def signalled(self) -> bool:
        return self._signalled.is_set()

    def __call__(self) -> bool:
        if self._signalled.is_set():
            return True
        if self._due is not None and self._clock() >= self._due:
            self.cause = self.cause or "deadline"
            return True
        return False


@contextlib.contextmanager
def stop_on_signals(stop: StopRequest) -> Iterator[None]:
    """First SIGTERM/SIGINT: stop at the next safe point. Second: exit at once."""

    def handle_signal(signum: int, _frame: FrameType | None) -> None:
        if stop.signalled:
            os.write(2, f"reconciler run: second signal {signum}, exiting now\n".encode())
            os._exit(128 + signum)
        stop.signal(signum)

    if threading.current_thread() is not threading.main_thread():
        yield  # only the main thread may install handlers (an embedding caller keeps its own)
        return
    previous = {sig: signal.signal(sig, handle_signal) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def handle(args: argparse.Namespace, env: Mapping[str, str]) -> int:
    source = Source(args, env)
    log_settings = parse_log_settings(source)
    settings = parse_run_settings(source)
    deadline = source.duration("--deadline", 0.0)
    configure_logging(log_settings.format, log_settings.level)
    clients = Clients(
        session=session_from_env(env), config=client_config(max_attempts=settings.aws_max_attempts)
    )
    try:
        reconciler = build_reconciler(settings, clients)
    except ValueError as exc:  # botocore refuses a malformed endpoint URL when creating a client
        raise ConfigError("AWS_ENDPOINT_URL", str(exc)) from exc
    stop = StopRequest(deadline)
    console = Console() if for_a_person(sys.stdout, args.json) else None
    try:
        with stop_on_signals(stop), _display(console) as progress:
            summary = reconciler.run_pass(PassControl(should_stop=stop), progress=progress)
    finally:
        reconciler.close()
    if summary.stop is StopReason.STOPPED_EARLY:
        summary.stopped_by = stop.cause
        get_logger(__name__).warning("pass_stopped", stopped_by=stop.cause)
    if console is not None:
        print_pass(console, summary)  # its verdict line says what the stderr lines below say
        return exit_code(summary)
    if summary.stop is StopReason.STOPPED_EARLY:
        print(f"reconciler run: stopped before the pass completed ({stop.cause})", file=sys.stderr)
    if summary.failed:
        print(f"reconciler run: failed: {summary.error}", file=sys.stderr)
    elif summary.brake_tripped:
        print(f"reconciler run: brake tripped: {summary.brake.reason}", file=sys.stderr)
    elif summary.outcome is PassOutcome.EMPTY:
        print(f"reconciler run: warning: no event found; check {NO_EVENTS_HINT}", file=sys.stderr)
    print(json.dumps(summary.to_dict(), sort_keys=True), flush=True)
    return exit_code(summary)


@contextlib.contextmanager
def _display(console: Console | None) -> Iterator[PassProgress]:
    if console is None:
        yield NO_PROGRESS
        return
    with pass_progress(console) as progress:
        yield progress


def exit_code(summary: PassSummary) -> ExitCode:
    """Bad configuration (2) was raised before the pass; here only the pass's own outcome."""
    if summary.failed:
        return ExitCode.FAILURE
    if summary.stop is StopReason.STOPPED_EARLY:
        return ExitCode.STOPPED
    if summary.brake_tripped:
        return ExitCode.BRAKE
    return ExitCode.OK
