"""``reconciler demo``: the whole loop on this machine, in about half a minute.

Five acts and a final table: the live path breaks some counters (duplicated and dropped
batches, a hand-edited counter), one reconciliation pass repairs them, a short ``serve`` loop
shows the metrics an operator would scrape; then a hot event, registrations arriving all the
while, loses a batch that ``replay`` applies again and gets a hand edit that ledger-mode passes
repair. ``options`` holds the events and the knobs, ``traffic`` what users and operators write,
``report`` the verdict and its text, ``passes`` a reconciliation pass, ``hot_world``,
``hot`` and ``hot_report`` the hot event's parts, acts and text, ``run`` the acts in order.
"""

from reconciler.devtools.demo.options import DEMO_EVENTS, HOT_EVENT, ORPHAN_SLUG, DemoOptions
from reconciler.devtools.demo.report import CountRow, DemoResult
from reconciler.devtools.demo.run import run_demo

__all__ = [
    "DEMO_EVENTS",
    "HOT_EVENT",
    "ORPHAN_SLUG",
    "CountRow",
    "DemoOptions",
    "DemoResult",
    "run_demo",
]
