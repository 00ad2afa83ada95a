"""Triggers, crontab translation, the interval alert rules see, and the misfire grace."""

from __future__ import annotations

import datetime as dt

import pytest
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger
from prometheus_client import CollectorRegistry

from reconciler.kernel.errors import ConfigError
from reconciler.serve.metrics import ReconcilerMetrics
from reconciler.serve.scheduler import (
    PassScheduler,
    Schedule,
    build_trigger,
    crontab_day_of_week,
    longest_gap_seconds,
    misfire_grace_for,
)

MONDAY_NOON = dt.datetime(2024, 10, 28, 12, 0, tzinfo=dt.UTC)


def fires(trigger: CronTrigger, start: dt.datetime, count: int) -> list[dt.datetime]:
    result: list[dt.datetime] = []
    previous = None
    now = start
    for _ in range(count):
        nxt = trigger.get_next_fire_time(previous, now)
        assert nxt is not None
        result.append(nxt)
        previous = nxt
        now = nxt + dt.timedelta(microseconds=1)
    return result


@pytest.mark.parametrize(
    ("field", "expected"),
    [
        ("*", "*"),
        ("1-5", "mon,tue,wed,thu,fri"),
        ("0", "sun"),
        ("7", "sun"),
        ("*/2", "sun,tue,thu,sat"),
        ("5-7", "sun,fri,sat"),
        ("sat-sun", "sun,sat"),
        ("MON,wed", "mon,wed"),
        ("1-5/2", "mon,wed,fri"),
    ],
)
def test_crontab_weekdays_keep_their_crontab_meaning(field, expected):
    assert crontab_day_of_week(field) == expected


@pytest.mark.parametrize("field", ["8", "5-2", "funday", "1-", "*/0"])
def test_invalid_weekday_fields_name_the_setting(field):
    with pytest.raises(ConfigError, match="--cron"):
        crontab_day_of_week(field)


def test_weekday_cron_fires_monday_to_friday_not_tuesday_to_saturday():
    trigger = build_trigger(Schedule(cron="0 9 * * 1-5"))
    assert isinstance(trigger, CronTrigger)
    weekdays = {fire.strftime("%a") for fire in fires(trigger, MONDAY_NOON, 10)}
    assert weekdays == {"Mon", "Tue", "Wed", "Thu", "Fri"}


def test_cron_runs_in_utc():
    trigger = build_trigger(Schedule(cron="30 2 * * *"))
    first = fires(trigger, MONDAY_NOON, 1)[0]
    assert (first.hour, first.minute, first.utcoffset()) == (2, 30, dt.timedelta(0))


def test_interval_trigger_carries_jitter_and_the_interval():
    trigger = build_trigger(Schedule(every=300, jitter=20))
    assert isinstance(trigger, IntervalTrigger)
    assert trigger.jitter == 20
    assert longest_gap_seconds(trigger, MONDAY_NOON) == 300


def test_a_weekday_cron_has_a_weekend_long_interval_for_the_alert_rules():
    trigger = build_trigger(Schedule(cron="0 9 * * 1-5"))
    assert longest_gap_seconds(trigger, MONDAY_NOON) == 3 * 24 * 3600


def test_every_ten_minutes_cron_is_a_ten_minute_interval():
    trigger = build_trigger(Schedule(cron="*/10 * * * *"))
    assert longest_gap_seconds(trigger, MONDAY_NOON) == 600


@pytest.mark.parametrize("expr", ["* * *", "61 * * * *", "* * * * * *"])
def test_bad_cron_expressions_are_config_errors(expr):
    with pytest.raises(ConfigError, match="--cron"):
        build_trigger(Schedule(cron=expr))


@pytest.mark.parametrize(
    ("interval", "grace"), [(0.5, 1), (60, 30), (300, 150), (3600, 900), (86400, 900)]
)
def test_misfire_grace_is_half_an_interval_between_one_second_and_fifteen_minutes(interval, grace):
    assert misfire_grace_for(interval) == grace


def test_the_job_is_added_coalescing_single_instance_with_the_derived_grace():
    metrics = ReconcilerMetrics(CollectorRegistry())
    scheduler = PassScheduler(lambda: None, Schedule(every=3600), metrics)
    scheduler.start()
    try:
        job = scheduler._scheduler.get_job("reconcile-pass")
        assert job.coalesce is True
        assert job.max_instances == 1
        assert job.misfire_grace_time == 900
        assert scheduler.running
    finally:
        scheduler.stop()
    assert not scheduler.running


def test_run_at_start_schedules_the_first_pass_now_not_after_an_interval():
    # a "now" in the future, so the job is only scheduled, never run, during the test
    now = dt.datetime.now(dt.UTC).replace(microsecond=0) + dt.timedelta(hours=1)
    metrics = ReconcilerMetrics(CollectorRegistry())
    scheduler = PassScheduler(
        lambda: None, Schedule(every=3600, run_at_start=True), metrics, now=lambda: now
    )
    scheduler.start()
    try:
        assert scheduler.next_run_time() == now
    finally:
        scheduler.stop()
