"""The handler's options for the commands that run it locally (``pump``, ``replay``).

Both run the real stream handler outside Lambda; where its EMF lines go, and the totals they
report, are chosen the same way in both.
"""

from __future__ import annotations

import argparse
import sys

from reconciler.handler.emf import MetricTotals
from reconciler.handler.entry import HandlerSettings, emf_sink
from reconciler.kernel import deployment_spec as spec
from reconciler.kernel.settings import Source


def add_handler_output_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--metrics-namespace", help=f"EMF namespace ({spec.HANDLER_METRICS_NAMESPACE})"
    )
    parser.add_argument(
        "--emf",
        help="where the handler's EMF lines go: off (default; totals in the summary) or stderr",
    )


def handler_metrics(source: Source, settings: HandlerSettings) -> MetricTotals:
    """Totals of the handler's metrics, each EMF line also printed with ``--emf stderr``."""
    target = source.choice("--emf", "off", ("off", "stderr"))
    return MetricTotals(emf_sink(settings, sys.stderr) if target == "stderr" else None)
