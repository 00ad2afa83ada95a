"""Conventions every command shares (reconciler/cli/parser.py), checked over the whole CLI."""

from __future__ import annotations

import argparse
import re
from collections.abc import Iterator
from pathlib import Path

import pytest

from reconciler.cli import COMMANDS, build_parser, main
from reconciler.cli.exit_codes import ExitCode
from reconciler.cli.parser import flag_env, setting_flag

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = (ROOT / "reconciler", ROOT / "alarms")


def _parsers(
    parser: argparse.ArgumentParser, path: str = "reconciler"
) -> Iterator[tuple[str, argparse.ArgumentParser]]:
    yield path, parser
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for name, child in action.choices.items():
                yield from _parsers(child, f"{path} {name}")


ALL_PARSERS = dict(_parsers(build_parser()))
HELP = {path: " ".join(parser.format_help().split()) for path, parser in ALL_PARSERS.items()}


def test_every_command_of_the_cli_is_checked_here() -> None:
    assert {path.split()[1] for path in ALL_PARSERS if " " in path} == set(COMMANDS)


@pytest.mark.parametrize("path", sorted(ALL_PARSERS))
def test_every_command_refuses_abbreviated_flags(path: str) -> None:
    assert ALL_PARSERS[path].allow_abbrev is False


@pytest.mark.parametrize("path", sorted(ALL_PARSERS))
def test_every_command_prints_its_version(path: str, capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main([*path.split()[1:], "--version"])
    assert exited.value.code == 0
    assert re.fullmatch(r"reconciler \d+\.\d+\.\d+\S*\n", capsys.readouterr().out)


@pytest.mark.parametrize("path", sorted(ALL_PARSERS))
def test_every_command_lists_the_exit_codes_in_its_help(path: str) -> None:
    epilog = HELP[path].partition("exit codes:")[2]
    for code in ExitCode:
        assert re.search(rf"(^| ){code.value} [a-zA-Z]", epilog), (path, code)


def test_a_prefix_of_a_flag_is_an_error_not_that_flag(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exited:
        main(["run", "--once", "--conc", "0", "--table-name", "t"], env={})
    assert exited.value.code == ExitCode.USAGE
    assert "reconciler run: error: unrecognized arguments: --conc 0" in capsys.readouterr().err


def test_serve_takes_version_although_it_has_a_version_attribute_flag(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["serve", "--version"])
    assert capsys.readouterr().out.startswith("reconciler ")


def test_an_unknown_flag_is_reported_with_the_usage_of_its_own_command(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["run", "--oncee"], env={})
    err = capsys.readouterr().err
    assert err.startswith("usage: reconciler run ")
    assert "reconciler run: error: unrecognized arguments: --oncee" in err


def test_an_unknown_flag_of_a_sub_action_names_the_sub_action(
    capsys: pytest.CaptureFixture[str],
) -> None:
    with pytest.raises(SystemExit):
        main(["alarms", "plan", "--bogus"], env={})
    assert (
        "reconciler alarms plan: error: unrecognized arguments: --bogus" in capsys.readouterr().err
    )


SETTINGS = {
    (path, action.option_strings[-1]): action
    for path, parser in ALL_PARSERS.items()
    for action in parser._actions
    if flag_env(action) is not None
}
SOURCE_TEXT = "\n".join(path.read_text() for path in PACKAGES for path in path.rglob("*.py"))


@pytest.mark.parametrize(("path", "flag"), sorted(SETTINGS))
def test_every_setting_shows_the_environment_variable_it_is_read_from(path: str, flag: str) -> None:
    variable = flag_env(SETTINGS[path, flag])
    assert f"env {variable}" in HELP[path]


@pytest.mark.parametrize("flag", sorted({flag for _, flag in SETTINGS}))
def test_a_flag_shown_with_an_environment_variable_is_read_through_the_settings_engine(
    flag: str,
) -> None:
    # The settings engine reads a setting by its flag name (``source.integer("--port")``) and
    # derives the variable from it, as the help does; a flag only ever read as ``args.x``
    # appears once, in its add_argument call, and its help would promise a variable in vain.
    action = next(action for (_, name), action in SETTINGS.items() if name == flag)
    read_as = setting_flag(action)
    declared_once = 1 if read_as == flag else 0
    assert SOURCE_TEXT.count(f'"{read_as}"') > declared_once, flag


def test_the_cli_prints_a_bash_completion_script(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit):
        main(["--print-completion", "bash"])
    script = capsys.readouterr().out
    assert "complete" in script
    assert "--max-read-units" in script
