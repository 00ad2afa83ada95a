"""Sub-commands of the ``reconciler`` CLI, one module each.

Each module exposes ``register(subparsers)``, which adds its parser and sets ``handler`` to a
function ``(args, env) -> exit code``. ``env`` is the process environment, read once by
``reconciler.cli.main``; commands are their own composition roots.
"""

COMMANDS: tuple[str, ...] = ("run", "pump", "demo", "serve", "alarms", "doctor")
