"""The status page as a person sees it: loaded in headless Chromium, read from the screen.

The fixed sample history is served by the real HTTP port; its screenshot must still match
``docs/img/status-page.png``, the picture the docs show. After a deliberate change to the
page, refresh the picture with ``UPDATE_SCREENSHOTS=1 pytest
tests/integration/test_status_page_browser.py`` and commit it (see docs/status-page.md).
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests
from prometheus_client import CollectorRegistry

from reconciler.serve.http import HttpServer, Readiness
from reconciler.serve.status_page import render_status
from tests.fakes.status import BRAKE_REASON, SAMPLE_PASSES, FakeLease, sample_snapshot
from tests.integration.chromium import Chromium
from tests.integration.serve_support import ServeProcess, seed, wait_for

pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("chromium")]
"""One worker, so one browser serves the whole module."""

SCREENSHOT = Path(__file__).parents[2] / "docs" / "img" / "status-page.png"
WIDTH, HEIGHT = 800, 1180
MOST_PIXELS_DIFFERING = 0.002
"""Of 944,000 pixels: the leader card reading "standby" instead of "this replica" differs in
4,200 (0.44%), one pass fewer in 3.4%, a changed word or digit in 18 to 180. Coarse on purpose:
anti-aliasing moves between Chromium releases; the words and numbers are asserted as text."""

PASSES_PLOTTED = "document.querySelectorAll('svg.chart g.pass').length"
CHART_WIDTH = "document.querySelector('svg.chart').getBoundingClientRect().width"


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Chromium]:
    chromium = Chromium(tmp_path_factory.mktemp("chromium"), width=WIDTH, height=HEIGHT)
    yield chromium
    chromium.close()


def serving(page: str) -> HttpServer:
    http = HttpServer(
        CollectorRegistry(),
        lambda: Readiness(True),
        host="127.0.0.1",
        port=0,
        status_page=lambda: page,
    )
    http.start()
    return http


def lines(text: str) -> list[str]:
    """innerText puts table cells apart with tabs and rows on lines."""
    return [" ".join(line.split()) for line in text.splitlines() if line.strip()]


def test_a_person_sees_the_leader_the_passes_the_corrections_and_one_point_per_pass(
    browser, tmp_path
):
    # GIVEN twelve passes of a leading replica served on the real HTTP port
    http = serving(render_status(sample_snapshot()))
    try:
        # WHEN the page is opened in Chromium
        browser.open(f"{http.url}/")
        text = browser.visible_text()
        shown = lines(text)
        plotted = browser.evaluate(PASSES_PLOTTED)
        chart_width = browser.evaluate(CHART_WIDTH)
        png = browser.screenshot()
    finally:
        http.stop()
    # THEN the leader card says this replica holds the lease
    assert "this replica" in shown[shown.index("LEADER") + 1]
    assert "holds the lease as reconciler-7f9c-1" in text
    # AND the sixth pass is a row with its drift both ways and its corrections
    assert "2026-11-18 11:31:40Z success 3.0 s 125 1 3 4" in shown
    assert "2026-11-18 11:46:40Z brake 3.3 s 128 6 2 0" in shown
    # AND corrected slugs are listed, newest first
    corrections = shown[shown.index("Last corrections") + 1 :]
    assert corrections[0].startswith("kotlinconf-workshops")
    assert any(line.startswith("goto-aarhus") for line in corrections)
    # AND the chart is on screen with one point per pass
    assert plotted == len(SAMPLE_PASSES)
    assert chart_width > 600
    # AND the screenshot is the one the docs show
    assert_matches_committed_screenshot(browser, png, tmp_path / SCREENSHOT.name)


def assert_matches_committed_screenshot(browser: Chromium, png: bytes, actual: Path) -> None:
    if os.environ.get("UPDATE_SCREENSHOTS") == "1" or not SCREENSHOT.exists():
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        SCREENSHOT.write_bytes(png)
        if os.environ.get("UPDATE_SCREENSHOTS") != "1":
            pytest.fail(f"{SCREENSHOT} was missing: written now, commit it")
    difference = browser.compare_pngs(SCREENSHOT.read_bytes(), png)
    actual.write_bytes(png)
    assert difference.one == difference.other == [WIDTH, HEIGHT], actual
    assert difference.fraction <= MOST_PIXELS_DIFFERING, (
        f"{difference.differing} pixels differ from {SCREENSHOT.name} (this run's: {actual}); "
        "if the page changed on purpose, rerun with UPDATE_SCREENSHOTS=1 and commit the picture"
    )


def test_a_standby_whose_last_pass_tripped_the_brake_says_so(browser):
    # GIVEN a standby whose last completed pass tripped the brake
    snapshot = sample_snapshot(
        lease=FakeLease(owner="replica-b", held=False, seen_holder="replica-a"), passes=9
    )
    http = serving(render_status(snapshot))
    try:
        browser.open(f"{http.url}/")
        text = browser.visible_text()
    finally:
        http.stop()
    shown = lines(text)
    assert shown[shown.index("LEADER") + 1] == "standby"
    assert "lease held by replica-a; this replica is replica-b" in text
    assert shown[shown.index("BRAKE") + 1 : shown.index("BRAKE") + 3] == ["tripped", BRAKE_REASON]


def test_a_real_serve_shows_its_correction_and_the_standby_names_the_leader(
    aws, clients, table_name, tmp_path, browser
):
    # GIVEN a table with one event stored one too high, and two replicas of `serve`
    seeded = seed(clients, table_name, events=3, drifted=1)
    args = ["--every", "1h", "--run-at-start", "--settle-seconds", "0.05"]
    leader = ServeProcess(aws, table_name, [*args, "--owner-id", "replica-a"], tmp_path / "a.log")
    try:
        leader.wait_ready()
        wait_for(lambda: leader.events("scheduled_pass_finished"), 20, what="the first pass")
        standby = ServeProcess(
            aws, table_name, [*args, "--owner-id", "replica-b"], tmp_path / "b.log"
        )
        try:
            standby.wait_ready()
            wait_for(
                lambda: (
                    "lease held by replica-a" in requests.get(f"{standby.url}/", timeout=5).text
                ),
                10,
                what="the standby's first look at the lease",
            )
            # WHEN both pages are opened
            browser.open(f"{leader.url}/")
            leader_text = browser.visible_text()
            plotted = browser.evaluate(PASSES_PLOTTED)
            browser.open(f"{standby.url}/")
            standby_text = browser.visible_text()
        finally:
            standby.stop()
    finally:
        leader.stop()
    # THEN the leader shows its pass: 3 events, 1 over, 0 under, 1 corrected, and the slug
    assert "holds the lease as replica-a" in leader_text
    row = next(line for line in lines(leader_text) if " success " in line)
    assert row.split()[-4:] == ["3", "1", "0", "1"]
    assert seeded.drifted[0] in lines(leader_text)[-1]
    assert "@" not in leader_text  # the attendees' (synthetic) e-mails never reach the page
    assert plotted == 1
    # AND the standby names the replica holding the lease
    assert "lease held by replica-a; this replica is replica-b" in standby_text
