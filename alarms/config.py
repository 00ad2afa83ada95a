"""Alarm settings from flags, the environment and a TOML file, validated once at start-up.

The layering is the kernel's settings engine (``reconciler.kernel.settings.Source``): flag, then
``RECONCILER_<FLAG>``, then the TOML file's key of the same name, then the default. Per-alarm
values merge per alarm key and field, so ``--threshold handler-errors=2`` overrides only that
alarm's threshold and keeps everything else the file's ``[alarms.handler-errors]`` says.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar

from alarms.runbooks import check_runbook_url_template
from alarms.spec import ALARM_KEYS, DEFAULT_PREFIX, THRESHOLD_UNITS, SpecParameters, Tuning
from reconciler.kernel import deployment_spec as deployed
from reconciler.kernel.errors import ConfigError
from reconciler.kernel.settings import Source, parse_integer, parse_number, read_toml_file

CONFIG_ENV = "RECONCILER_ALARMS_CONFIG"

_T = TypeVar("_T")

_PREFIX = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.\-]{0,99}$")
_FUNCTION_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,64}$")
_TOPIC_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,256}$")
_QUEUE_NAME = re.compile(r"^[A-Za-z0-9_\-]{1,80}(\.fifo)?$")
_NAMESPACE = re.compile(r"^[A-Za-z0-9.\-_/#:]{1,255}$")
_ARN = re.compile(r"^arn:aws[a-z\-]*:[a-z0-9\-]+:[a-z0-9\-]*:\d{12}:.+$")
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

_TOP_LEVEL_KEYS = frozenset(
    {
        "function_name",
        "function_timeout",
        "topic_arn",
        "topic_name",
        "email",
        "sqs_subscription",
        "prefix",
        "on_failure_queue",
        "reconciler_namespace",
        "handler_namespace",
        "runbook_url",
        "runbook_url_template",
        "alarms",
    }
)
_ALARM_FIELDS = frozenset(
    {"enabled", "threshold", "period", "evaluation_periods", "datapoints_to_alarm"}
)


@dataclass(frozen=True, slots=True)
class AlarmSettings:
    prefix: str
    function_name: str
    function_timeout_seconds: int | None
    """``None``: read the timeout from the function's configuration."""
    topic_arn: str | None
    topic_name: str | None
    """Exactly one of topic_arn and topic_name is set (topic_name defaults from the prefix)."""
    email_subscriptions: tuple[str, ...]
    sqs_subscriptions: tuple[str, ...]
    on_failure_queue: str | None
    reconciler_namespace: str | None
    handler_namespace: str
    runbook_url_template: str
    """Absolute URL with ``{name}``, the alarm key: each description links its runbook."""
    tuning: Mapping[str, Tuning] = field(default_factory=dict)
    disabled: frozenset[str] = frozenset()

    def spec_parameters(self, timeout_seconds: int) -> SpecParameters:
        return SpecParameters(
            function_name=self.function_name,
            timeout_seconds=timeout_seconds,
            handler_namespace=self.handler_namespace,
            on_failure_queue_name=self.on_failure_queue,
            reconciler_namespace=self.reconciler_namespace,
            tuning=self.tuning,
            disabled=self.disabled,
        )


def add_alarm_arguments(parser: argparse.ArgumentParser) -> None:
    """The flags every alarms-aware command shares (``alarms *`` and ``doctor``)."""
    group = parser.add_argument_group("alarm settings (flags win over env, env over --config)")
    group.add_argument("--config", help=f"TOML file with alarm settings (env {CONFIG_ENV})")
    group.add_argument("--prefix", help=f"alarm name prefix ({DEFAULT_PREFIX})")
    group.add_argument(
        "--function-name", help=f"the stream handler ({deployed.HANDLER_FUNCTION_NAME})"
    )
    group.add_argument(
        "--function-timeout", help="handler timeout in seconds (default: read from the function)"
    )
    group.add_argument("--topic-arn", help="existing SNS topic for alarm and OK notifications")
    group.add_argument("--topic-name", help="SNS topic to create or reuse ({prefix}-alarms)")
    group.add_argument("--email", action="append", help="email subscription (repeatable)")
    group.add_argument(
        "--sqs-subscription", action="append", help="SQS queue ARN subscription (repeatable)"
    )
    group.add_argument(
        "--on-failure-queue", help="on-failure SQS queue name of the event source mapping"
    )
    group.add_argument(
        "--reconciler-namespace", help="CloudWatch namespace the reconciler publishes to"
    )
    group.add_argument(
        "--handler-namespace", help=f"handler EMF namespace ({deployed.HANDLER_METRICS_NAMESPACE})"
    )
    group.add_argument(
        "--runbook-url-template",
        metavar="URL",
        help="runbook link in each alarm description; {name} becomes the alarm key "
        f"({deployed.RUNBOOK_URL_TEMPLATE})",
    )
    group.add_argument(
        "--runbook-url",
        metavar="URL",
        help="deprecated: links {URL}#runbook-{name}; use --runbook-url-template",
    )
    group.add_argument(
        "--threshold", action="append", metavar="ALARM=VALUE", help="threshold (repeatable)"
    )
    group.add_argument(
        "--period", action="append", metavar="ALARM=SECONDS", help="period (repeatable)"
    )
    group.add_argument("--disable", action="append", metavar="ALARM", help="turn an alarm off")


def alarm_keys_help() -> str:
    """An epilog listing the ALARM names and what their thresholds mean."""
    lines = ["ALARM names and threshold units:"]
    lines += [f"  {key:<32} {THRESHOLD_UNITS[key]}" for key in ALARM_KEYS]
    return "\n".join(lines)


def read_config_file(path: str) -> dict[str, Any]:
    """Parse the TOML file; a missing or broken file is a ConfigError naming ``--config``."""
    return read_toml_file(path, "--config")


def load_alarm_settings(
    source: Source, read_file: Callable[[str], dict[str, Any]] = read_config_file
) -> AlarmSettings:
    _, config_path = source.raw("--config", CONFIG_ENV)
    document = read_file(str(config_path)) if config_path else {}
    return parse_alarm_settings(source, document, str(config_path or "config"))


def parse_alarm_settings(
    source: Source, document: Mapping[str, Any], file_label: str = "config"
) -> AlarmSettings:
    """Pure: flags/env from ``source``, the rest from the parsed TOML ``document``."""
    layered = source.with_file(document, file_label, known=_TOP_LEVEL_KEYS)

    prefix = layered.optional_string("--prefix") or DEFAULT_PREFIX
    _match(prefix, _PREFIX, layered.label("--prefix"), "letters, digits, . _ - (max 100)")
    function_name = layered.optional_string("--function-name") or deployed.HANDLER_FUNCTION_NAME
    _match(function_name, _FUNCTION_NAME, layered.label("--function-name"), "a Lambda name")
    timeout = layered.optional_integer("--function-timeout", minimum=1, maximum=900)

    topic_arn = layered.optional_string("--topic-arn")
    topic_name = layered.optional_string("--topic-name")
    if topic_arn and topic_name:
        raise ConfigError("--topic-arn / --topic-name", "give one of them, not both")
    if topic_arn:
        _match(topic_arn, _ARN, layered.label("--topic-arn"), "an SNS topic ARN")
    else:
        topic_name = topic_name or f"{prefix}-alarms"
        _match(topic_name, _TOPIC_NAME, layered.label("--topic-name"), "an SNS topic name")

    emails = layered.items("--email")
    for email in emails:
        # The address itself is personal data: never echo it into an error or a log.
        _match(email, _EMAIL, layered.label("--email"), "an email address", echo=False)
    sqs_arns = layered.items("--sqs-subscription")
    for arn in sqs_arns:
        _match(arn, _ARN, layered.label("--sqs-subscription"), "an SQS queue ARN")

    queue = layered.optional_string("--on-failure-queue")
    if queue:
        queue = queue.rsplit(":", 1)[-1].rsplit("/", 1)[-1]  # accept a name, ARN or URL
        _match(queue, _QUEUE_NAME, layered.label("--on-failure-queue"), "an SQS queue name")
    reconciler_ns = layered.optional_string("--reconciler-namespace")
    handler_ns = (
        layered.optional_string("--handler-namespace") or deployed.HANDLER_METRICS_NAMESPACE
    )
    for flag, namespace in (
        ("--reconciler-namespace", reconciler_ns),
        ("--handler-namespace", handler_ns),
    ):
        if namespace is not None:
            _match(namespace, _NAMESPACE, layered.label(flag), "a CloudWatch namespace")
            if namespace.startswith("AWS/"):
                raise ConfigError(layered.label(flag), "must not start with AWS/ (reserved)")

    tuning, disabled = _alarm_tuning(source, document.get("alarms", {}), file_label)
    return AlarmSettings(
        prefix=prefix,
        function_name=function_name,
        function_timeout_seconds=timeout,
        topic_arn=topic_arn,
        topic_name=None if topic_arn else topic_name,
        email_subscriptions=emails,
        sqs_subscriptions=sqs_arns,
        on_failure_queue=queue,
        reconciler_namespace=reconciler_ns,
        handler_namespace=handler_ns,
        runbook_url_template=_runbook_url_template(layered),
        tuning=tuning,
        disabled=disabled,
    )


def _runbook_url_template(source: Source) -> str:
    template = source.optional_string("--runbook-url-template")
    base = source.optional_string("--runbook-url")
    if template and base:
        raise ConfigError("--runbook-url-template / --runbook-url", "give one of them, not both")
    if base:
        # The deprecated form named a page and linked an anchor on it per alarm.
        return check_runbook_url_template(f"{base}#runbook-{{name}}", source.label("--runbook-url"))
    if template:
        return check_runbook_url_template(template, source.label("--runbook-url-template"))
    return deployed.RUNBOOK_URL_TEMPLATE


def _alarm_tuning(
    source: Source, table: object, file_label: str
) -> tuple[dict[str, Tuning], frozenset[str]]:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{file_label}: alarms", "must be a table of [alarms.<name>] tables")
    # (alarm key, field) -> (where the value came from, raw value); flags/env replace the file.
    values: dict[tuple[str, str], tuple[str, object]] = {}
    disabled: set[str] = set()
    for key, section in table.items():
        where = f"{file_label}: alarms.{key}"
        _known_alarm(key, where)
        if not isinstance(section, Mapping):
            raise ConfigError(where, "must be a table")
        unknown = sorted(set(section) - _ALARM_FIELDS)
        if unknown:
            raise ConfigError(
                f"{where}.{unknown[0]}", f"unknown field; known: {', '.join(sorted(_ALARM_FIELDS))}"
            )
        for name, value in section.items():
            if name != "enabled":
                values[(key, name)] = (f"{where}.{name}", value)
            elif not isinstance(value, bool):
                raise ConfigError(f"{where}.enabled", "must be true or false")
            elif not value:
                disabled.add(key)
    for flag, name in (("--threshold", "threshold"), ("--period", "period")):
        label = source.label(flag)
        for key, value in source.pairs(flag, metavar="ALARM=VALUE"):
            _known_alarm(key, label)
            values[(key, name)] = (label, value)
    for key in source.items("--disable"):
        _known_alarm(key, source.label("--disable"))
        disabled.add(key)

    def read(key: str, name: str, convert: Callable[[object, str], _T]) -> _T | None:
        found = values.get((key, name))
        return None if found is None else convert(found[1], found[0])

    tuning = {
        key: Tuning(
            threshold=read(key, "threshold", _threshold),
            period_seconds=read(key, "period", _period),
            evaluation_periods=read(key, "evaluation_periods", _count),
            datapoints_to_alarm=read(key, "datapoints_to_alarm", _count),
        )
        for key in dict.fromkeys(key for key, _ in values)
    }
    return tuning, frozenset(disabled)


def _threshold(value: object, label: str) -> float:
    return parse_number(value, label, minimum=0, finite=True)


def _period(value: object, label: str) -> int:
    return parse_integer(value, label, minimum=10, maximum=86_400)


def _count(value: object, label: str) -> int:
    return parse_integer(value, label, minimum=1, maximum=100)


def _known_alarm(key: str, label: str) -> None:
    if key not in ALARM_KEYS:
        raise ConfigError(label, f"unknown alarm {key!r}; known: {', '.join(ALARM_KEYS)}")


def _match(value: str, pattern: re.Pattern[str], label: str, what: str, echo: bool = True) -> None:
    if not pattern.match(value):
        shown = f", got {value!r}" if echo else ""
        raise ConfigError(label, f"must be {what}{shown}")
