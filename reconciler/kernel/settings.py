"""Settings are read once, at start-up, from flags and the environment; flags win.

The CLI passes ``os.environ`` in exactly once (in ``reconciler.cli.main``); nothing else in the
package reads the environment, so every setting is validated in one place and fails fast with
a message that names it.
"""

from __future__ import annotations

import argparse
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Literal

from reconciler.kernel.errors import ConfigError
from reconciler.kernel.model import TableModel

LogFormat = Literal["auto", "json", "console"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def env_name(flag: str) -> str:
    """``--settle-seconds`` -> ``RECONCILER_SETTLE_SECONDS``."""
    return "RECONCILER_" + flag.lstrip("-").replace("-", "_").upper()


class Source:
    """Looks a setting up in parsed flags first, then in the environment mapping."""

    def __init__(self, flags: argparse.Namespace | Mapping[str, object], env: Mapping[str, str]):
        self._flags = vars(flags) if isinstance(flags, argparse.Namespace) else dict(flags)
        self._env = env

    def raw(self, flag: str, env: str | None = None) -> tuple[str, object | None]:
        """Return (setting label for messages, raw value or None)."""
        dest = flag.lstrip("-").replace("-", "_")
        env = env or env_name(flag)
        value = self._flags.get(dest)
        if value is not None:
            return flag, value
        env_value = self._env.get(env)
        if env_value is not None and env_value != "":
            return env, env_value
        return f"{flag} / {env}", None

    def string(self, flag: str, default: str | None = None, env: str | None = None) -> str | None:
        _, value = self.raw(flag, env)
        return default if value is None else str(value)

    def required_string(self, flag: str, env: str | None = None) -> str:
        label, value = self.raw(flag, env)
        if value is None or str(value).strip() == "":
            raise ConfigError(label, "is required")
        return str(value)

    def integer(
        self,
        flag: str,
        default: int,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        env: str | None = None,
    ) -> int:
        label, value = self.raw(flag, env)
        if value is None:
            return default
        try:
            number = int(str(value).strip())
        except ValueError:
            raise ConfigError(label, f"must be an integer, got {value!r}") from None
        _check_range(label, number, minimum, maximum)
        return number

    def number(
        self,
        flag: str,
        default: float,
        *,
        minimum: float | None = None,
        maximum: float | None = None,
        env: str | None = None,
    ) -> float:
        label, value = self.raw(flag, env)
        if value is None:
            return default
        try:
            number = float(str(value).strip())
        except ValueError:
            raise ConfigError(label, f"must be a number, got {value!r}") from None
        if math.isnan(number):
            raise ConfigError(label, "must be a number, got NaN")
        _check_range(label, number, minimum, maximum)
        return number

    def duration(
        self, flag: str, default: float, *, minimum: float = 0.0, env: str | None = None
    ) -> float:
        """Seconds, from ``90``, ``90s``, ``5m``, ``1.5h`` or ``250ms``."""
        label, value = self.raw(flag, env)
        if value is None:
            return default
        seconds = parse_duration(str(value), label)
        _check_range(label, seconds, minimum, None)
        return seconds

    def boolean(self, flag: str, default: bool, env: str | None = None) -> bool:
        label, value = self.raw(flag, env)
        if value is None:
            return default
        if isinstance(value, bool):
            return value
        text = str(value).strip().lower()
        if text in {"1", "true", "yes", "on"}:
            return True
        if text in {"0", "false", "no", "off"}:
            return False
        raise ConfigError(label, f"must be true or false, got {value!r}")

    def choice(
        self, flag: str, default: str, choices: tuple[str, ...], env: str | None = None
    ) -> str:
        label, value = self.raw(flag, env)
        if value is None:
            return default
        text = str(value).strip().lower()
        if text not in choices:
            raise ConfigError(label, f"must be one of {', '.join(choices)}, got {value!r}")
        return text

    def string_list(
        self, flag: str, default: tuple[str, ...], env: str | None = None
    ) -> tuple[str, ...]:
        label, value = self.raw(flag, env)
        if value is None:
            return default
        items = value if isinstance(value, list | tuple) else str(value).split(",")
        parts = tuple(str(item).strip() for item in items if str(item).strip())
        if not parts:
            raise ConfigError(label, "must list at least one value")
        return parts


def parse_duration(text: str, label: str) -> float:
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(label, f"must be a duration such as 90, 90s, 5m or 1h, got {text!r}")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def _check_range(label: str, number: float, minimum: float | None, maximum: float | None) -> None:
    if minimum is not None and number < minimum:
        raise ConfigError(label, f"must be at least {minimum:g}, got {number:g}")
    if maximum is not None and number > maximum:
        raise ConfigError(label, f"must be at most {maximum:g}, got {number:g}")


@dataclass(frozen=True, slots=True)
class TableSettings:
    """Where the table is and how its keys are laid out."""

    table_name: str
    model: TableModel


@dataclass(frozen=True, slots=True)
class LogSettings:
    format: LogFormat
    level: str


def add_table_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("table layout (defaults follow the deployed system)")
    group.add_argument("--table-name", help="DynamoDB table (env TABLE_NAME)")
    group.add_argument("--event-partitions", help="comma-separated event partitions (FAD,EVENT)")
    group.add_argument("--attendee-suffix", help="attendee partition suffix (#ATTENDEE)")
    group.add_argument("--counter-attribute", help="counter attribute (attendeeCount)")
    group.add_argument("--version-attribute", help="counter version attribute (counterVersion)")
    group.add_argument("--sequence-attribute", help="applied sequence attribute (counterSeq)")
    group.add_argument("--pk-attribute", help="partition key attribute (pk)")
    group.add_argument("--sk-attribute", help="sort key attribute (sk)")


def add_log_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--log-format", help="auto (console on a TTY, else JSON), json, console")
    parser.add_argument("--log-level", help="debug, info, warning, error")


def parse_table_settings(source: Source, *, required: bool = True) -> TableSettings:
    defaults = TableModel()
    if required:
        table_name = source.required_string("--table-name", env="TABLE_NAME")
    else:
        table_name = source.string("--table-name", "", env="TABLE_NAME") or ""
    model = TableModel(
        pk_attr=_attribute(source, "--pk-attribute", defaults.pk_attr),
        sk_attr=_attribute(source, "--sk-attribute", defaults.sk_attr),
        event_partitions=source.string_list("--event-partitions", defaults.event_partitions),
        attendee_suffix=source.string("--attendee-suffix", defaults.attendee_suffix)
        or defaults.attendee_suffix,
        counter_attr=_attribute(source, "--counter-attribute", defaults.counter_attr),
        version_attr=_attribute(source, "--version-attribute", defaults.version_attr),
        sequence_attr=_attribute(source, "--sequence-attribute", defaults.sequence_attr),
    )
    if model.pk_attr == model.sk_attr:
        raise ConfigError("--pk-attribute / --sk-attribute", "must differ")
    if len({model.counter_attr, model.version_attr, model.sequence_attr}) != 3:
        raise ConfigError(
            "--counter-attribute", "counter, version and sequence attributes must differ"
        )
    if not model.attendee_suffix.startswith(model.separator):
        raise ConfigError(env_name("--attendee-suffix"), f"must start with {model.separator!r}")
    return TableSettings(table_name=table_name, model=model)


def parse_log_settings(source: Source) -> LogSettings:
    fmt = source.choice("--log-format", "auto", ("auto", "json", "console"))
    level = source.choice("--log-level", "info", ("debug", "info", "warning", "error"))
    return LogSettings(format=fmt, level=level)  # type: ignore[arg-type]


_ATTRIBUTE = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,254}$")


def _attribute(source: Source, flag: str, default: str) -> str:
    label, value = source.raw(flag)
    if value is None:
        return default
    name = str(value).strip()
    if not _ATTRIBUTE.match(name):
        raise ConfigError(label, f"is not a usable attribute name: {value!r}")
    return name
