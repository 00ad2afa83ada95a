"""The shipped Grafana dashboard is what its builder writes, and asks only for rules we record.

That every query returns data from a real Prometheus is tested in
``tests/integration/test_dashboards_prometheus.py``.
"""

from __future__ import annotations

import json
import re

from deploy.grafana import dashboard
from tests.unit.test_runbooks import rules

RECORDED_NAME = re.compile(r"\b[a-z_]+:[a-z0-9_:]+")


def test_the_committed_json_is_what_the_builder_writes():
    assert dashboard.OUTPUT.read_text() == dashboard.render()
    assert dashboard.main(["--check"]) == 0


def test_every_query_selects_the_chosen_job():
    assert dashboard.expressions()
    for expr in dashboard.expressions():
        assert '{job=~"$job"}' in expr, expr


def test_every_recorded_series_it_reads_is_recorded_by_a_shipped_rule():
    recorded = {rule["record"] for rule in rules() if "record" in rule}
    used = {name for expr in dashboard.expressions() for name in RECORDED_NAME.findall(expr)}
    assert used
    assert used - recorded == set()


def test_panel_ids_are_unique_and_panels_stay_on_the_grid():
    panels = json.loads(dashboard.render())["panels"]
    assert len({panel["id"] for panel in panels}) == len(panels)
    for panel in panels:
        grid = panel["gridPos"]
        assert grid["x"] + grid["w"] <= 24, panel["title"]
