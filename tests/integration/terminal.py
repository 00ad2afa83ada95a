"""A command run as a real subprocess with its stdout on a pseudo-terminal, as a person would
run it (stderr on the same terminal or on a pipe of its own); and, for commands run in-process
under ``capsys``, a captured stdout that says it is a terminal."""

from __future__ import annotations

import contextlib
import errno
import os
import pty
import re
import subprocess
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass

import pytest

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]")
"""Control sequences (colours, cursor moves), stripped to read a terminal's text."""


@dataclass(frozen=True)
class Screen:
    code: int
    terminal: str
    """Everything written to the terminal, control sequences included."""
    stderr: str
    """stderr when it was given a pipe, else empty (it went to the terminal)."""


def on_a_terminal(
    argv: Sequence[str], env: Mapping[str, str], *, stderr_on_terminal: bool = True
) -> Screen:
    """``python -m reconciler ARGV``; the terminal is 120 columns wide."""
    primary, secondary = pty.openpty()
    environment = {**env, "COLUMNS": "120", "LINES": "40", "TERM": "xterm-256color"}
    process = subprocess.Popen(
        [sys.executable, "-m", "reconciler", *argv],
        stdin=subprocess.DEVNULL,
        stdout=secondary,
        stderr=secondary if stderr_on_terminal else subprocess.PIPE,
        env=environment,
    )
    os.close(secondary)
    output = bytearray()
    while True:
        try:
            chunk = os.read(primary, 65536)
        except OSError as exc:  # EIO: the child closed its end of the terminal
            if exc.errno != errno.EIO:
                raise
            break
        if not chunk:
            break
        output += chunk
    os.close(primary)
    err = process.stderr.read().decode() if process.stderr is not None else ""
    code = process.wait(timeout=60)
    return Screen(code, output.decode(errors="replace"), err)


@contextlib.contextmanager
def stdout_is_a_terminal() -> Iterator[None]:
    """The captured ``sys.stdout`` answers ``isatty()`` with ``True`` meanwhile, so a command
    prints for a person (its plain text, no control sequences for these commands)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(sys.stdout, "isatty", lambda: True)
        yield
