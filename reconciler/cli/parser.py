"""The conventions every ``reconciler`` parser shares, so no command can forget one.

- No abbreviated flags: ``--conc 0`` must not quietly mean ``--concurrency 0``, and a prefix
  that is unambiguous today becomes ambiguous when a flag is added, breaking scripts.
- ``--version`` on every command, not only the top level.
- Each setting's environment variable shown in ``--help``, derived from the same rule the
  settings engine reads it with (:func:`reconciler.kernel.settings.env_name`), and the exit
  codes in every command's epilog.
- An unknown flag is reported by the command it was given to, with that command's usage.
"""

from __future__ import annotations

import argparse
from typing import Any

from alarms.config import CONFIG_ENV
from reconciler import __version__
from reconciler.cli.exit_codes import MEANINGS
from reconciler.kernel.settings import env_name

NOT_SETTINGS: frozenset[str] = frozenset(
    {"--help", "--version", "--json", "--update", "--print-completion"}
)
"""Flags that only shape one invocation's output: they have no environment variable."""

ENV_OVERRIDES: dict[str, str] = {"--table-name": "TABLE_NAME", "--config": CONFIG_ENV}
"""Settings read from a variable other than ``RECONCILER_<FLAG>`` (the deployed functions'
own variable names)."""


def setting_flag(action: argparse.Action) -> str | None:
    """The name the settings engine reads an option by (``--no-bisect`` sets ``--bisect``),
    or None for an option that is not a setting."""
    long_flags = [option for option in action.option_strings if option.startswith("--")]
    if not long_flags or long_flags[0] in NOT_SETTINGS:
        return None
    return "--" + action.dest.replace("_", "-")


def flag_env(action: argparse.Action) -> str | None:
    """The environment variable an option's setting is read from, as Source reads it."""
    flag = setting_flag(action)
    return None if flag is None else ENV_OVERRIDES.get(flag, env_name(flag))


def exit_code_epilog() -> str:
    rows = (f"  {code.value:>3}  {meaning}" for code, meaning in MEANINGS.items())
    return "\n".join(("exit codes:", *rows))


class HelpFormatter(argparse.RawDescriptionHelpFormatter):
    """Appends ``[env NAME]`` to each setting's help, unless the help already names one."""

    def _get_help_string(self, action: argparse.Action) -> str | None:
        text = action.help or ""
        variable = flag_env(action)
        if variable is None or "env " in text or action.help == argparse.SUPPRESS:
            return action.help
        return f"{text} [env {variable}]".strip()


class CommandParser(argparse.ArgumentParser):
    """Every parser of the CLI: the top level, each command and each sub-action."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        kwargs.setdefault("allow_abbrev", False)
        kwargs.setdefault("formatter_class", HelpFormatter)
        own_epilog = kwargs.get("epilog")
        kwargs["epilog"] = (
            f"{own_epilog}\n\n{exit_code_epilog()}" if own_epilog else exit_code_epilog()
        )
        super().__init__(*args, **kwargs)
        self.add_argument("--version", action="version", version=f"reconciler {__version__}")
        # The deepest parser reached sets this last, so an error names the right command.
        self.set_defaults(command_parser=self)
