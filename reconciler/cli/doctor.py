"""``reconciler doctor``: checks a live deployment against the deployment guide.

On a terminal, one line per check; with ``--json`` or when stdout is not a terminal, one JSON
document.

Exit 0 when nothing failed (warnings allowed), 1 when any check failed, 2 on bad settings.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from alarms.config import add_alarm_arguments, load_alarm_settings
from alarms.spec import build_specs
from reconciler.cli.exit_codes import ExitCode
from reconciler.cli.human import for_a_person, plural
from reconciler.cli.progress import working
from reconciler.doctor.checks import CheckResult, Expectations, evaluate, failed
from reconciler.doctor.gather import Gatherer
from reconciler.kernel import deployment_spec as deployed
from reconciler.kernel.aws import Clients, session_from_env
from reconciler.kernel.logs import configure_logging, get_logger
from reconciler.kernel.settings import Source, add_log_arguments, parse_log_settings

_MARK = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "skip": "SKIP"}


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "doctor",
        help="check the deployment: tables, stream, export, mapping, permissions, logs, "
        "the replay chain, alarms",
        description="Runs the deployment guide's validation and troubleshooting checks against "
        "the account and region boto3 resolves; each check passes, warns or fails with a fix.",
    )
    parser.add_argument("--table-name", help="DynamoDB table (env TABLE_NAME)")
    parser.add_argument(
        "--state-table",
        help="the state table holding the counter's ledger (default: the one StatefulStack "
        f"exports as {deployed.STATE_TABLE_NAME_EXPORT} for this table, else <table-name>-state)",
    )
    parser.add_argument(
        "--stream-export-name",
        help=f"CloudFormation export of the stream ARN ({deployed.TABLE_STREAM_ARN_EXPORT})",
    )
    parser.add_argument(
        "--on-failure-queue-url",
        metavar="URL",
        help="the queue `reconciler serve` replays (its own setting, so the same environment "
        f"variable works); default: the {deployed.RECONCILER_STACK_NAME} stack's "
        f"{deployed.RECONCILER_QUEUE_URL_OUTPUT} output",
    )
    parser.add_argument(
        "--reconciler-stack",
        metavar="NAME",
        help="CloudFormation stack of the reconciler service, whose outputs name the queue it "
        f"replays and its task role (default {deployed.RECONCILER_STACK_NAME})",
    )
    parser.add_argument(
        "--skip-alarms", action="store_true", default=None, help="do not check the alarms"
    )
    parser.add_argument(
        "--json",
        action="store_true",
        help="print one JSON document (the default when stdout is not a terminal)",
    )
    add_alarm_arguments(parser)
    add_log_arguments(parser)
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO | None = None) -> int:
    out = out or sys.stdout
    source = Source(args, env)
    logs = parse_log_settings(source)
    table_name = source.required_string("--table-name", env="TABLE_NAME")
    export_name = source.string("--stream-export-name", deployed.TABLE_STREAM_ARN_EXPORT)
    state_table = source.optional_string("--state-table")
    settings = load_alarm_settings(source)
    skip_alarms = source.boolean("--skip-alarms", False)
    replay_queue_url = source.optional_string("--on-failure-queue-url")
    reconciler_stack = (
        source.optional_string("--reconciler-stack") or deployed.RECONCILER_STACK_NAME
    )
    configure_logging(logs.format, logs.level)

    alarm_names: tuple[str, ...] | None = None
    runbooks: dict[str, str] = {}
    if not skip_alarms:
        # Names do not depend on the timeout, so the deployed default is good enough here.
        timeout = settings.function_timeout_seconds or deployed.HANDLER_TIMEOUT_SECONDS
        specs = build_specs(settings.spec_parameters(timeout))
        alarm_names = tuple(spec.name(settings.prefix) for spec in specs)
        runbooks = {
            spec.name(settings.prefix): spec.runbook_url(settings.runbook_url_template)
            for spec in specs
        }

    human = for_a_person(out, bool(args.json))
    gatherer = Gatherer.from_clients(Clients(session=session_from_env(env)))
    with working("checking the deployment") if human else contextlib.nullcontext():
        facts = gatherer.gather(
            table_name=table_name,
            function_name=settings.function_name,
            export_name=export_name or deployed.TABLE_STREAM_ARN_EXPORT,
            state_table_name=state_table,
            alarm_names=alarm_names,
            runbooks=runbooks,
            replay_queue_url=replay_queue_url,
            reconciler_stack=reconciler_stack,
        )
    expected = Expectations(
        table_name=table_name,
        function_name=settings.function_name,
        export_name=export_name or deployed.TABLE_STREAM_ARN_EXPORT,
        on_failure_queue=settings.on_failure_queue,
    )
    results = evaluate(facts, expected)
    render(results, out, as_json=not human)
    get_logger("reconciler.doctor").info(
        "doctor_finished",
        checks=len(results),
        failed=sum(r.status == "fail" for r in results),
        warned=sum(r.status == "warn" for r in results),
        skipped=sum(r.status == "skip" for r in results),
    )
    return ExitCode.FAILURE if failed(results) else ExitCode.OK


def render(results: list[CheckResult], out: TextIO, *, as_json: bool) -> None:
    if as_json:
        document = {"ok": not failed(results), "checks": [r.to_json() for r in results]}
        print(json.dumps(document), file=out)
        return
    width = max(len(r.name) for r in results)
    for result in results:
        print(f"{_MARK[result.status]}  {result.name:<{width}}  {result.detail}", file=out)
        if result.status in ("warn", "fail") and result.fix:
            print(f"{'':<{width + 8}}fix: {result.fix}", file=out)
    counts = {s: sum(r.status == s for r in results) for s in ("pass", "warn", "fail", "skip")}
    verdict = "FAILED" if counts["fail"] else "OK"
    print(
        f"doctor: {verdict} ({counts['pass']} passed, {plural(counts['warn'], 'warning')}, "
        f"{counts['fail']} failed, {counts['skip']} skipped)",
        file=out,
    )
