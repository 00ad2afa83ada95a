"""``reconciler demo``: the whole loop on this machine, in about half a minute.

Three acts: the live path breaks some counters (duplicated and dropped batches, a hand-edited
counter), one reconciliation pass repairs them, and a short ``serve`` loop shows the metrics an
operator would scrape. ``options`` holds the events and the knobs, ``traffic`` what users and
operators write, ``report`` the verdict and its text, ``run`` the acts in order.
"""

from reconciler.devtools.demo.options import DEMO_EVENTS, ORPHAN_SLUG, DemoOptions
from reconciler.devtools.demo.report import CountRow, DemoResult
from reconciler.devtools.demo.run import run_demo

__all__ = ["DEMO_EVENTS", "ORPHAN_SLUG", "CountRow", "DemoOptions", "DemoResult", "run_demo"]
