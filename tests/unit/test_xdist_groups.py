"""The suite's ``xdist_group`` marks keep their tests in one worker under ``make test``.

The CDK, Spark and server tests share expensive module fixtures (a synthesized app, a JVM);
``--dist loadgroup`` sends a group to one worker only if pytest-xdist can tag each test's id with
its group, which a pytest release that names tests differently silently breaks (pyproject.toml
pins pytest below 9.2 for that reason).
"""

from __future__ import annotations

import pytest


@pytest.mark.xdist_group("grouping-check")
def test_a_grouped_test_carries_its_group_in_its_id_under_loadgroup(
    request: pytest.FixtureRequest,
) -> None:
    if not getattr(request.config.option, "loadgroup", False):  # set in each xdist worker
        pytest.skip("only meaningful under pytest -n N --dist loadgroup (make test)")
    assert request.node.nodeid.endswith("@grouping-check")
