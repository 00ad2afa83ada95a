"""The exit codes of every ``reconciler`` command, in one enum.

Scripts and schedulers branch on these, so they are a public interface: a command never
returns a bare integer. :data:`MEANINGS` is what every command's ``--help`` prints.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    FAILURE = 1
    USAGE = 2
    BRAKE = 3
    STOPPED = 4
    INTERRUPTED = 130


MEANINGS: dict[ExitCode, str] = {
    ExitCode.OK: "success",
    ExitCode.FAILURE: "the command ran and hit a problem (a failed pass or check)",
    ExitCode.USAGE: "bad usage or configuration, reported before any AWS call",
    ExitCode.BRAKE: "run: the brake tripped; corrections were planned, none written",
    ExitCode.STOPPED: "run: stopped at a safe point (SIGTERM, SIGINT or --deadline)",
    ExitCode.INTERRUPTED: "Ctrl-C (128 + SIGINT), as shells report it",
}
