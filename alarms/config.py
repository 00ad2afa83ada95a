"""Alarm settings from flags, the environment and a TOML file, validated once at start-up.

Precedence per setting: flag, then ``RECONCILER_<FLAG>``, then the TOML file, then the default.
Per-alarm values merge per alarm key, so ``--threshold handler-errors=2`` overrides only that
alarm's threshold and keeps everything else the file says.
"""

from __future__ import annotations

import argparse
import math
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from alarms.render import DEFAULT_RUNBOOK_URL
from alarms.spec import ALARM_KEYS, DEFAULT_PREFIX, THRESHOLD_UNITS, SpecParameters, Tuning
from reconciler.kernel import deployment_spec as deployed
from reconciler.kernel.errors import ConfigError
from reconciler.kernel.settings import Source

CONFIG_ENV = "RECONCILER_ALARMS_CONFIG"

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
    runbook_url: str
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
        "--runbook-url", help=f"runbook base in descriptions ({DEFAULT_RUNBOOK_URL})"
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
    """Parse the TOML file; a missing or broken file is a ConfigError naming it."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError("--config", f"file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError("--config", f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError("--config", f"{path} is not valid TOML: {exc}") from None


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
    unknown = set(document) - _TOP_LEVEL_KEYS
    if unknown:
        raise ConfigError(
            f"{file_label}: {sorted(unknown)[0]}",
            f"unknown setting; known: {', '.join(sorted(_TOP_LEVEL_KEYS))}",
        )
    layered = _Layered(source, document, file_label)

    prefix = layered.string("--prefix", DEFAULT_PREFIX)
    _match(prefix, _PREFIX, layered.label("--prefix"), "letters, digits, . _ - (max 100)")
    function_name = layered.string("--function-name", deployed.HANDLER_FUNCTION_NAME)
    _match(function_name, _FUNCTION_NAME, layered.label("--function-name"), "a Lambda name")
    timeout = layered.optional_int("--function-timeout", minimum=1, maximum=900)

    topic_arn = layered.optional_string("--topic-arn")
    topic_name = layered.optional_string("--topic-name")
    if topic_arn and topic_name:
        raise ConfigError("--topic-arn / --topic-name", "give one of them, not both")
    if topic_arn:
        _match(topic_arn, _ARN, layered.label("--topic-arn"), "an SNS topic ARN")
    else:
        topic_name = topic_name or f"{prefix}-alarms"
        _match(topic_name, _TOPIC_NAME, layered.label("--topic-name"), "an SNS topic name")

    emails = layered.strings("--email")
    for email in emails:
        # The address itself is personal data: never echo it into an error or a log.
        _match(email, _EMAIL, layered.label("--email"), "an email address", echo=False)
    sqs_arns = layered.strings("--sqs-subscription")
    for arn in sqs_arns:
        _match(arn, _ARN, layered.label("--sqs-subscription"), "an SQS queue ARN")

    queue = layered.optional_string("--on-failure-queue")
    if queue:
        queue = queue.rsplit(":", 1)[-1].rsplit("/", 1)[-1]  # accept a name, ARN or URL
        _match(queue, _QUEUE_NAME, layered.label("--on-failure-queue"), "an SQS queue name")
    reconciler_ns = layered.optional_string("--reconciler-namespace")
    handler_ns = layered.string("--handler-namespace", deployed.HANDLER_METRICS_NAMESPACE)
    for label, namespace in (
        ("--reconciler-namespace", reconciler_ns),
        ("--handler-namespace", handler_ns),
    ):
        if namespace is not None:
            _match(namespace, _NAMESPACE, layered.label(label), "a CloudWatch namespace")
            if namespace.startswith("AWS/"):
                raise ConfigError(layered.label(label), "must not start with AWS/ (reserved)")

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
        runbook_url=layered.string("--runbook-url", DEFAULT_RUNBOOK_URL),
        tuning=tuning,
        disabled=disabled,
    )


class _Layered:
    """Flag, then env (via Source), then the file, then the default."""

    def __init__(self, source: Source, document: Mapping[str, Any], file_label: str) -> None:
        self._source = source
        self._document = document
        self._file_label = file_label
        self._labels: dict[str, str] = {}

    def raw(self, flag: str) -> object | None:
        label, value = self._source.raw(flag)
        key = flag.lstrip("-").replace("-", "_")
        if value is None and key in self._document:
            label, value = f"{self._file_label}: {key}", self._document[key]
        self._labels[flag] = label
        return value

    def label(self, flag: str) -> str:
        return self._labels.get(flag, flag)

    def optional_string(self, flag: str) -> str | None:
        value = self.raw(flag)
        if value is None:
            return None
        if not isinstance(value, str | int | float) or isinstance(value, bool):
            raise ConfigError(self.label(flag), "must be a string")
        text = str(value).strip()
        return text or None

    def string(self, flag: str, default: str) -> str:
        return self.optional_string(flag) or default

    def optional_int(self, flag: str, *, minimum: int, maximum: int) -> int | None:
        value = self.raw(flag)
        if value is None:
            return None
        return _integer(value, self.label(flag), minimum, maximum)

    def strings(self, flag: str) -> tuple[str, ...]:
        value = self.raw(flag)
        if value is None:
            return ()
        items = value if isinstance(value, list | tuple) else str(value).split(",")
        parts: list[str] = []
        for item in items:
            parts.extend(p.strip() for p in str(item).split(",") if p.strip())
        return tuple(dict.fromkeys(parts))


def _alarm_tuning(
    source: Source, table: object, file_label: str
) -> tuple[dict[str, Tuning], frozenset[str]]:
    if not isinstance(table, Mapping):
        raise ConfigError(f"{file_label}: alarms", "must be a table of [alarms.<name>] tables")
    values: dict[str, dict[str, object]] = {}
    labels: dict[tuple[str, str], str] = {}
    disabled: set[str] = set()
    for key, section in table.items():
        where = f"{file_label}: alarms.{key}"
        _known_alarm(key, where)
        if not isinstance(section, Mapping):
            raise ConfigError(where, "must be a table")
        unknown = set(section) - _ALARM_FIELDS
        if unknown:
            raise ConfigError(
                f"{where}.{sorted(unknown)[0]}",
                f"unknown field; known: {', '.join(sorted(_ALARM_FIELDS))}",
            )
        for name, value in section.items():
            if name == "enabled":
                if not isinstance(value, bool):
                    raise ConfigError(f"{where}.enabled", "must be true or false")
                if not value:
                    disabled.add(key)
                continue
            values.setdefault(key, {})[name] = value
            labels[(key, name)] = f"{where}.{name}"
    # Flags/env override the file per alarm and field.
    for flag, name in (("--threshold", "threshold"), ("--period", "period")):
        label, raw = source.raw(flag)
        for key, value in _pairs(raw, label):
            values.setdefault(key, {})[name] = value
            labels[(key, name)] = label
    label, raw = source.raw("--disable")
    if raw is not None:
        items = raw if isinstance(raw, list | tuple) else [raw]
        for item in items:
            for key in (k.strip() for k in str(item).split(",") if k.strip()):
                _known_alarm(key, label)
                disabled.add(key)

    tuning: dict[str, Tuning] = {}
    for key, fields_ in values.items():
        tuning[key] = Tuning(
            threshold=_number(fields_["threshold"], labels[(key, "threshold")])
            if "threshold" in fields_
            else None,
            period_seconds=_integer(fields_["period"], labels[(key, "period")], 10, 86_400)
            if "period" in fields_
            else None,
            evaluation_periods=_integer(
                fields_["evaluation_periods"], labels[(key, "evaluation_periods")], 1, 100
            )
            if "evaluation_periods" in fields_
            else None,
            datapoints_to_alarm=_integer(
                fields_["datapoints_to_alarm"], labels[(key, "datapoints_to_alarm")], 1, 100
            )
            if "datapoints_to_alarm" in fields_
            else None,
        )
    return tuning, frozenset(disabled)


def _pairs(raw: object | None, label: str) -> list[tuple[str, str]]:
    if raw is None:
        return []
    items = raw if isinstance(raw, list | tuple) else [raw]
    pairs: list[tuple[str, str]] = []
    for item in items:
        for part in (p.strip() for p in str(item).split(",") if p.strip()):
            key, sep, value = part.partition("=")
            if not sep or not value.strip():
                raise ConfigError(label, f"expected ALARM=VALUE, got {part!r}")
            _known_alarm(key.strip(), label)
            pairs.append((key.strip(), value.strip()))
    return pairs


def _known_alarm(key: str, label: str) -> None:
    if key not in ALARM_KEYS:
        raise ConfigError(label, f"unknown alarm {key!r}; known: {', '.join(ALARM_KEYS)}")


def _number(value: object, label: str) -> float:
    if isinstance(value, bool):
        raise ConfigError(label, f"must be a number, got {value!r}")
    try:
        number = float(str(value))
    except ValueError:
        raise ConfigError(label, f"must be a number, got {value!r}") from None
    if not math.isfinite(number):
        raise ConfigError(label, f"must be a finite number, got {value!r}")
    if number < 0:
        raise ConfigError(label, f"must not be negative, got {value!r}")
    return number


def _integer(value: object, label: str, minimum: int, maximum: int) -> int:
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ConfigError(label, f"must be an integer, got {value!r}")
    try:
        number = int(str(value).strip()) if not isinstance(value, float) else int(value)
    except ValueError:
        raise ConfigError(label, f"must be an integer, got {value!r}") from None
    if not minimum <= number <= maximum:
        raise ConfigError(label, f"must be between {minimum} and {maximum}, got {number}")
    return number


def _match(value: str, pattern: re.Pattern[str], label: str, what: str, echo: bool = True) -> None:
    if not pattern.match(value):
        shown = f", got {value!r}" if echo else ""
        raise ConfigError(label, f"must be {what}{shown}")
