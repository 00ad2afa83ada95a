"""The status page: its bounded history, and the HTML rendered from a snapshot (no browser)."""

from __future__ import annotations

import re
import threading

import pytest
import requests
from prometheus_client import CollectorRegistry

from reconciler.reconcile.core import BrakeDecision
from reconciler.reconcile.summary import CORRECTED_SLUGS_KEPT, PassSummary
from reconciler.serve.app import ServeApp
from reconciler.serve.http import HttpServer, Readiness
from reconciler.serve.job import PassJob
from reconciler.serve.metric_labels import Outcome
from reconciler.serve.metrics import ReconcilerMetrics
from reconciler.serve.scheduler import Schedule
from reconciler.serve.settings import ServeSettings
from reconciler.serve.status import CORRECTIONS_KEPT, PASSES_KEPT, StatusHistory
from reconciler.serve.status_page import render_status
from tests.fakes.serve import FakePassRunner
from tests.fakes.status import BRAKE_REASON, SAMPLE_PASSES, FakeLease, sample_snapshot

HOSTILE_SLUG = '<script>alert("x")</script>&amp;'


def rendered_passes(page: str) -> int:
    return len(re.findall(r'<g class="pass[ "]', page))


def history_of(*summaries: tuple[PassSummary, Outcome]) -> StatusHistory:
    history = StatusHistory()
    for index, (summary, outcome) in enumerate(summaries):
        history.record(summary, outcome, finished_at=1000.0 + index, duration=1.0)
    return history


def page_of(history: StatusHistory, lease: FakeLease | None = None) -> str:
    return render_status(
        history.snapshot(now=2000.0, version="9.9", lease=lease, pass_in_progress=False)
    )


def test_the_chart_has_one_point_per_pass_and_the_table_one_row():
    page = render_status(sample_snapshot())
    assert rendered_passes(page) == len(SAMPLE_PASSES)
    assert page.count('<tr class="pass-row">') == len(SAMPLE_PASSES)
    assert page.count('<g class="pass incomplete">') == 2  # the failed and the aborted pass


def test_a_slug_is_escaped_wherever_it_appears():
    summary = PassSummary(run_id="r<1>", drift_over=1)
    summary.note_corrected(HOSTILE_SLUG)
    page = page_of(history_of((summary, Outcome.SUCCESS)), FakeLease(owner='o"><b>'))
    assert "<script>" not in page
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;&amp;amp;" in page
    assert "r&lt;1&gt;" in page
    assert 'o"><b>' not in page


@pytest.mark.parametrize(
    ("lease", "value", "detail"),
    [
        (None, "this replica", "no lease: the only replica"),
        (FakeLease(owner="a"), "this replica", "holds the lease as a"),
        (
            FakeLease(owner="b", held=False, seen_holder="a"),
            "standby",
            "lease held by a; this replica is b",
        ),
        (
            FakeLease(owner="b", held=False),
            "standby",
            "lease not held by anyone; this replica is b",
        ),
    ],
)
def test_the_leader_card_names_who_leads(lease, value, detail):
    page = page_of(StatusHistory(), lease)
    card = re.search(r'<div class="card" id="leader">(.*?)</div></div>', page)
    assert card is not None
    assert f">{value}</div>" in card.group(1)
    assert detail in card.group(1)


def test_without_passes_the_page_says_so_and_draws_no_chart():
    page = page_of(StatusHistory())
    assert "No pass has finished since this replica started." in page
    assert "No correction since this replica started." in page
    assert "<svg" not in page


def test_the_brake_shows_the_last_completed_pass_even_after_a_failure():
    braked = PassSummary(run_id="a", drift_over=9)
    braked.brake = BrakeDecision(tripped=True, reason=BRAKE_REASON)
    history = history_of((braked, Outcome.BRAKE), (PassSummary(run_id="b"), Outcome.FAILURE))
    snapshot = history.snapshot(now=0.0, version="v", lease=None, pass_in_progress=False)
    assert snapshot.brake_reason == BRAKE_REASON
    assert BRAKE_REASON in render_status(snapshot)


def test_corrections_show_paused_when_the_last_pass_was_held_by_the_lag_gate():
    history = history_of(
        (PassSummary(run_id="a"), Outcome.SUCCESS),
        (PassSummary(run_id="b", corrections_paused=True), Outcome.SUCCESS),
    )
    page = page_of(history)
    assert '<div class="value warn">paused</div>' in page
    assert (
        not history.snapshot(now=0.0, version="v", lease=None, pass_in_progress=False)
        .passes[0]
        .paused
    )


def test_the_history_keeps_only_the_newest_passes_and_corrections():
    history = StatusHistory()
    for index in range(PASSES_KEPT + 10):
        summary = PassSummary(run_id=f"run-{index}")
        summary.note_corrected(f"event-{index}")
        history.record(summary, Outcome.SUCCESS, finished_at=float(index), duration=0.1)
    passes, corrections = history.passes(), history.corrections()
    assert len(passes) == PASSES_KEPT
    assert passes[0].run_id == "run-10"
    assert len(corrections) == CORRECTIONS_KEPT
    assert corrections[-1].slug == f"event-{PASSES_KEPT + 9}"


def test_a_summary_counts_every_correction_but_remembers_only_the_last_slugs():
    summary = PassSummary(run_id="r")
    for index in range(CORRECTED_SLUGS_KEPT + 5):
        summary.note_corrected(f"event-{index}")
    assert summary.corrected == CORRECTED_SLUGS_KEPT + 5
    assert summary.corrected_slugs[0] == "event-5"
    assert "corrected_slugs" not in summary.to_dict()


def test_each_scheduled_pass_lands_in_the_history_with_its_outcome():
    runner = FakePassRunner(
        script=[PassSummary(run_id="x", events_checked=5, drift_under=2), RuntimeError("boom")]
    )
    metrics = ReconcilerMetrics(CollectorRegistry())
    job = PassJob(runner, metrics, stop=threading.Event(), clock=lambda: 50.0)
    job()
    job()
    records = job.history.passes()
    assert [(r.outcome, r.drift_under) for r in records] == [
        (Outcome.SUCCESS, 2),
        (Outcome.FAILURE, 0),
    ]


def test_the_http_port_serves_the_page_on_root_only_when_given_one():
    with_page = HttpServer(
        CollectorRegistry(),
        lambda: Readiness(True),
        host="127.0.0.1",
        port=0,
        status_page=lambda: "<p>hello</p>",
    )
    without = HttpServer(CollectorRegistry(), lambda: Readiness(True), host="127.0.0.1", port=0)
    for server in (with_page, without):
        server.start()
    try:
        page = requests.get(f"{with_page.url}/", timeout=5)
        missing = requests.get(f"{without.url}/", timeout=5)
        other = requests.get(f"{with_page.url}/nope", timeout=5)
    finally:
        with_page.stop()
        without.stop()
    assert page.status_code == 200
    assert page.headers["Content-Type"] == "text/html; charset=utf-8"
    assert page.text == "<p>hello</p>"
    assert missing.status_code == 404
    assert other.json()["paths"] == ["/", "/metrics", "/healthz", "/readyz"]


def test_a_running_app_renders_its_own_passes_on_root():
    runner = FakePassRunner(events=4, write_every=2)
    settings = ServeSettings(schedule=Schedule(every=3600.0), host="127.0.0.1", port=0, lease=None)
    app = ServeApp(runner, ReconcilerMetrics(CollectorRegistry()), settings)
    app.job()
    page = app.status_page()
    assert rendered_passes(page) == 1
    assert "no lease: the only replica" in page
    assert "<td>4</td>" in page
