"""The exit codes of every ``reconciler`` command, in one enum.

Scripts and schedulers branch on these, so they are a public interface: a command never
returns a bare integer.
"""

from __future__ import annotations

import enum


class ExitCode(enum.IntEnum):
    OK = 0
    FAILURE = 1
    """The command ran and found or hit a problem (a failed pass, a failed check, ...)."""
    USAGE = 2
    """Bad usage or configuration, reported before any AWS call."""
    BRAKE = 3
    """``run``: the blast-radius brake tripped; corrections were planned, none written."""
    STOPPED = 4
    """``run``: stopped before the pass completed (SIGTERM, SIGINT or ``--deadline``), at a safe
    point between events; the summary says what was done (``stopped_early``, ``stopped_by``)."""
    INTERRUPTED = 130
    """Ctrl-C (128 + SIGINT), as shells report it."""
