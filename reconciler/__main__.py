"""Allows ``python -m reconciler`` where the console script is not on PATH."""

from reconciler.cli import main

raise SystemExit(main())
