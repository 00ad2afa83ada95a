"""Settings are read once, at start-up: flags, then the environment, then a file, then defaults.

The CLI passes ``os.environ`` in exactly once (in ``reconciler.cli.main``); nothing else in the
package reads the environment, so every setting is validated in one place and fails fast with
a message that names it: the flag, the environment variable or the file key it came from.
"""

from __future__ import annotations

import argparse
import math
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from reconciler.kernel.errors import ConfigError
from reconciler.kernel.ledger import default_state_table
from reconciler.kernel.model import TableModel

LogFormat = Literal["auto", "json", "console"]

_DURATION = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(ms|s|m|h|d)?\s*$")
_DURATION_UNITS = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0, "d": 86400.0, None: 1.0}


def env_name(flag: str) -> str:
    """``--settle-seconds`` -> ``RECONCILER_SETTLE_SECONDS``."""
    return "RECONCILER_" + flag.lstrip("-").replace("-", "_").upper()


def file_key(flag: str) -> str:
    """``--function-timeout`` -> ``function_timeout``: the flag's name in a settings file."""
    return flag.lstrip("-").replace("-", "_")


class Source:
    """Looks a setting up in parsed flags, then the environment, then an optional file's values.

    The file layer is a parsed document (TOML, say) whose top-level keys are the flags' names in
    snake case; errors about a value from it name ``{file_label}: {key}``.
    """

    def __init__(
        self,
        flags: argparse.Namespace | Mapping[str, object],
        env: Mapping[str, str],
        file: Mapping[str, object] | None = None,
        file_label: str = "config",
    ):
        self._flags = vars(flags) if isinstance(flags, argparse.Namespace) else dict(flags)
        self._env = env
        self._file: Mapping[str, object] = file or {}
        self._file_label = file_label

    def with_file(
        self, document: Mapping[str, object], label: str, *, known: frozenset[str] | None = None
    ) -> Source:
        """The same flags and environment over ``document``; ``known`` rejects stray keys early."""
        if known is not None:
            unknown = sorted(set(document) - known)
            if unknown:
                raise ConfigError(
                    f"{label}: {unknown[0]}", f"unknown setting; known: {', '.join(sorted(known))}"
                )
        return Source(self._flags, self._env, document, label)

    def raw(self, flag: str, env: str | None = None) -> tuple[str, object | None]:
        """Return (setting label for messages, raw value or None)."""
        dest = file_key(flag)
        env = env or env_name(flag)
        value = self._flags.get(dest)
        if value is not None:
            return flag, value
        env_value = self._env.get(env)
        if env_value is not None and env_value != "":
            return env, env_value
        if self._file.get(dest) is not None:
            return f"{self._file_label}: {dest}", self._file[dest]
        if self._file:
            return f"{flag} / {env} / {self._file_label}: {dest}", None
        return f"{flag} / {env}", None

    def label(self, flag: str, env: str | None = None) -> str:
        """Where the setting's value comes from, for an error raised after parsing it."""
        return self.raw(flag, env)[0]

    def string(self, flag: str, default: str | None = None, env: str | None = None) -> str | None:
        label, value = self.raw(flag, env)
        return default if value is None else _text(value, label)

    def optional_string(self, flag: str, env: str | None = None) -> str | None:
        """The stripped value, or ``None`` when the setting is absent or blank."""
        label, value = self.raw(flag, env)
        if value is None:
            return None
        return _text(value, label).strip() or None

    def required_string(self, flag: str, env: str | None = None) -> str:
        label, value = self.raw(flag, env)
        if value is None or _text(value, label).strip() == "":
            raise ConfigError(label, "is required")
        return _text(value, label)

    def integer(
        self,
        flag: str,
        default: int,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        env: str | None = None,
    ) -> int:
        number = self.optional_integer(flag, minimum=minimum, maximum=maximum, env=env)
        return default if number is None else number

    def optional_integer(
        self,
        flag: str,
        *,
        minimum: int | None = None,
        maximum: int | None = None,
        env: str | None = None,
    ) -> int | None:
        label, value = self.raw(flag, env)
        return None if value is None else parse_integer(value, label, minimum, maximum)

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
        return parse_number(value, label, minimum, maximum)

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
        """A non-empty list: ``a,b`` from a flag or the environment, or a file's array."""
        label, value = self.raw(flag, env)
        if value is None:
            return default
        parts = tuple(_split(value))
        if not parts:
            raise ConfigError(label, "must list at least one value")
        return parts

    def items(self, flag: str, env: str | None = None) -> tuple[str, ...]:
        """Every value of a repeatable flag, each comma-separated too; duplicates once, in order.

        Absent is the empty tuple: repeatable settings (subscriptions, say) may list nothing.
        """
        _, value = self.raw(flag, env)
        return () if value is None else tuple(dict.fromkeys(_split(value)))

    def pairs(
        self, flag: str, env: str | None = None, *, metavar: str = "KEY=VALUE"
    ) -> tuple[tuple[str, str], ...]:
        """``KEY=VALUE`` items (repeatable, comma-separated), values still raw text."""
        label, value = self.raw(flag, env)
        pairs: list[tuple[str, str]] = []
        for item in () if value is None else _split(value):
            key, sep, text = item.partition("=")
            if not sep or not key.strip() or not text.strip():
                raise ConfigError(label, f"expected {metavar}, got {item!r}")
            pairs.append((key.strip(), text.strip()))
        return tuple(pairs)


def read_toml_file(path: str, label: str) -> dict[str, Any]:
    """Parse a settings file; a missing or broken file is a ConfigError naming ``label``."""
    try:
        return tomllib.loads(Path(path).read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise ConfigError(label, f"file not found: {path}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(label, f"cannot read {path}: {exc}") from None
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(label, f"{path} is not valid TOML: {exc}") from None


def parse_integer(
    value: object, label: str, minimum: int | None = None, maximum: int | None = None
) -> int:
    """An integer from text, or from a file's number when it is whole (``120.0``)."""
    if isinstance(value, bool) or (isinstance(value, float) and not value.is_integer()):
        raise ConfigError(label, f"must be an integer, got {value!r}")
    try:
        number = int(value) if isinstance(value, int | float) else int(str(value).strip())
    except ValueError:
        raise ConfigError(label, f"must be an integer, got {value!r}") from None
    _check_range(label, number, minimum, maximum)
    return number


def parse_number(
    value: object,
    label: str,
    minimum: float | None = None,
    maximum: float | None = None,
    *,
    finite: bool = False,
) -> float:
    """A number from text or a file's number; ``finite`` also refuses infinity."""
    if isinstance(value, bool):
        raise ConfigError(label, f"must be a number, got {value!r}")
    try:
        number = float(str(value).strip())
    except ValueError:
        raise ConfigError(label, f"must be a number, got {value!r}") from None
    if math.isnan(number):
        raise ConfigError(label, "must be a number, got NaN")
    if finite and math.isinf(number):
        raise ConfigError(label, f"must be a finite number, got {value!r}")
    _check_range(label, number, minimum, maximum)
    return number


def parse_duration(text: str, label: str) -> float:
    match = _DURATION.match(text)
    if not match:
        raise ConfigError(label, f"must be a duration such as 90, 90s, 5m or 1h, got {text!r}")
    return float(match.group(1)) * _DURATION_UNITS[match.group(2)]


def _text(value: object, label: str) -> str:
    """A file may hold any TOML type; a text setting takes only a string or a number."""
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise ConfigError(label, "must be a string")
    return str(value)


def _split(value: object) -> list[str]:
    """``"a, b"`` or ``["a", "b,c"]`` -> ``["a", "b", "c"]``, blanks dropped."""
    items = value if isinstance(value, list | tuple) else [value]
    return [part.strip() for item in items for part in str(item).split(",") if part.strip()]


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
    state_table_name: str = ""
    """The state table (the counter's ledger); empty means the default, ``<table>-state``."""

    @property
    def state_table(self) -> str:
        return self.state_table_name or default_state_table(self.table_name)


@dataclass(frozen=True, slots=True)
class LogSettings:
    format: LogFormat
    level: str


def add_table_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("table layout (defaults follow the deployed system)")
    group.add_argument("--table-name", help="DynamoDB table (env TABLE_NAME)")
    group.add_argument(
        "--state-table",
        help="the state table holding the counter's ledger (<table-name>-state)",
    )
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
    state_table = source.string("--state-table", "") or ""
    return TableSettings(table_name=table_name, model=model, state_table_name=state_table.strip())


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
