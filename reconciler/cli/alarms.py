"""``reconciler alarms plan|apply|destroy``: the CloudWatch alarms of ``alarms.spec``.

The composition root for the alarms tooling: settings are parsed once, clients created here
and injected into the adapters. Results go to stdout (one line per alarm on a terminal; with
``--json`` or when stdout is not a terminal, one JSON document), logs to stderr.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
from collections.abc import Mapping
from typing import Any, TextIO

from alarms.cloudwatch import CloudWatchAlarms, LambdaFunctions, SnsTopics, SqsQueues
from alarms.config import AlarmSettings, add_alarm_arguments, alarm_keys_help, load_alarm_settings
from alarms.plan import AlarmPlan
from alarms.service import AlarmPorts, Outcome, apply, destroy, prepare
from alarms.spec import build_specs
from reconciler.cli.exit_codes import ExitCode
from reconciler.cli.human import for_a_person, plural
from reconciler.cli.progress import working
from reconciler.kernel import deployment_spec as deployed
from reconciler.kernel.aws import Clients, session_from_env
from reconciler.kernel.errors import ConfigError, ReconcilerError
from reconciler.kernel.logs import configure_logging, get_logger
from reconciler.kernel.settings import Source, add_log_arguments, parse_log_settings


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "alarms",
        help="plan, apply or destroy the CloudWatch alarms on the handler and reconciler",
        description="CloudWatch alarms as code: the same specification the CDK MonitoringStack "
        "deploys. Only alarms tagged as owned by this tool (and this prefix) are changed.",
    )
    actions = parser.add_subparsers(dest="alarms_action", metavar="ACTION", required=True)
    for name, help_text in (
        ("plan", "show what apply would create, update and delete"),
        ("apply", "create the topic and make the alarms match the specification"),
        ("destroy", "delete the alarms this tool owns under the prefix"),
    ):
        action = actions.add_parser(
            name,
            help=help_text,
            description=help_text,
            epilog=alarm_keys_help(),
        )
        add_alarm_arguments(action)
        add_log_arguments(action)
        action.add_argument(
            "--json",
            action="store_true",
            help="print one JSON document (the default when stdout is not a terminal)",
        )
        action.set_defaults(handler=run)


def run(args: argparse.Namespace, env: Mapping[str, str], out: TextIO | None = None) -> int:
    out = out or sys.stdout
    source = Source(args, env)
    logs = parse_log_settings(source)
    settings = load_alarm_settings(source)
    # Every setting is checked before the first AWS call; only a threshold measured against
    # the function's own timeout waits for it, when --function-timeout is not given.
    build_specs(
        settings.spec_parameters(
            settings.function_timeout_seconds or deployed.HANDLER_TIMEOUT_SECONDS
        )
    )
    configure_logging(logs.format, logs.level)
    log = get_logger("reconciler.alarms")
    clients = Clients(session=session_from_env(env))  # no region: exit 2 with one line, as `run`
    ports = AlarmPorts(
        alarms=CloudWatchAlarms(clients.cloudwatch()),
        topics=SnsTopics(clients.sns(), clients.sts()),
        functions=LambdaFunctions(clients.lambda_()),
        queues=SqsQueues(clients.sqs()),
    )
    action = args.alarms_action
    as_json = not for_a_person(out, args.json)
    try:
        with contextlib.nullcontext() if as_json else working(f"alarms {action}"):
            done = _act(action, settings, ports)
    except ConfigError:
        raise
    except ReconcilerError as exc:
        print(f"reconciler alarms {action}: {exc}", file=sys.stderr)
        return ExitCode.FAILURE
    if isinstance(done, AlarmPlan):
        _print_plan(done, out, as_json, verb="destroy", past=True)
        log.info("alarms_destroyed", prefix=settings.prefix, deleted=len(done.delete))
        return ExitCode.OK
    outcome = done
    if action == "plan" and outcome.plan.foreign:
        print(
            f"reconciler alarms plan: {len(outcome.plan.foreign)} desired alarm name(s) are "
            f"taken by alarms not owned by this tool: {', '.join(outcome.plan.foreign)}",
            file=sys.stderr,
        )
    _print_outcome(outcome, out, as_json, action)
    log.info(
        f"alarms_{action}",
        prefix=settings.prefix,
        create=len(outcome.plan.create),
        update=len(outcome.plan.update),
        delete=len(outcome.plan.delete),
        unchanged=len(outcome.plan.unchanged),
        subscriptions_added=outcome.subscriptions_added,
    )
    return ExitCode.FAILURE if outcome.plan.foreign else ExitCode.OK


def _act(action: str, settings: AlarmSettings, ports: AlarmPorts) -> Outcome | AlarmPlan:
    """``destroy`` answers with what it deleted; ``plan`` and ``apply`` with an outcome."""
    if action == "destroy":
        return destroy(settings, ports)
    return apply(settings, ports) if action == "apply" else prepare(settings, ports)


def _print_outcome(outcome: Outcome, out: TextIO, as_json: bool, action: str) -> None:
    if not as_json:
        state = "exists" if outcome.topic_exists else "will be created by apply"
        print(f"topic      {outcome.topic_arn} ({state})", file=out)
        print(f"timeout    {outcome.timeout_seconds} s (duration alarm threshold base)", file=out)
    _print_plan(outcome.plan, out, as_json, verb=action, past=action == "apply")


def _print_plan(result: AlarmPlan, out: TextIO, as_json: bool, *, verb: str, past: bool) -> None:
    if as_json:
        print(json.dumps(result.to_json(), sort_keys=False), file=out)
        return
    rows: list[tuple[str, str]] = [("create", d.name) for d in result.create]
    rows += [("update", f"{u.definition.name} ({', '.join(u.changed)})") for u in result.update]
    rows += [("delete", name) for name in result.delete]
    rows += [("unchanged", name) for name in result.unchanged]
    rows += [("FOREIGN", f"{name} (exists, not owned by this tool)") for name in result.foreign]
    for kind, text in rows:
        print(f"{kind:<10} {text}", file=out)
    counts = (
        f"{len(result.create)} {'created' if past else 'to create'}, "
        f"{len(result.update)} {'updated' if past else 'to update'}, "
        f"{len(result.delete)} {'deleted' if past else 'to delete'}, "
        f"{len(result.unchanged)} unchanged"
    )
    print(f"{verb}: {plural(result.changes, 'change')} ({counts})", file=out)
