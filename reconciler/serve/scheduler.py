"""When passes run: APScheduler 3.x with an interval or a crontab expression, in UTC.

The job is added with ``coalesce=True`` (a backlog of missed runs collapses into one) and
``max_instances=1`` (a pass that overruns its interval makes the next tick a counted skip,
never a second concurrent pass). The misfire grace scales with the interval: APScheduler's
1 s default would silently drop a run whenever the process was briefly descheduled.
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from apscheduler.events import EVENT_JOB_MAX_INSTANCES, EVENT_JOB_MISSED
from apscheduler.executors.pool import ThreadPoolExecutor
from apscheduler.schedulers.background import BackgroundScheduler
from apscheduler.triggers.cron import CronTrigger
from apscheduler.triggers.interval import IntervalTrigger

from reconciler.kernel.errors import ConfigError
from reconciler.kernel.logs import get_logger
from reconciler.serve.metrics import ReconcilerMetrics, SkipReason

log = get_logger(__name__)

JOB_ID = "reconcile-pass"
MAX_MISFIRE_GRACE_SECONDS = 900.0
_WEEKDAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
_DOW_PART = re.compile(r"^(\*|[a-z]{3}|\d)(?:-([a-z]{3}|\d))?(?:/(\d+))?$")


@dataclass(frozen=True, slots=True)
class Schedule:
    """Exactly one of ``every`` (seconds) and ``cron`` (five crontab fields) is set."""

    every: float | None = None
    cron: str | None = None
    jitter: float = 0.0
    run_at_start: bool = False
    misfire_grace: float | None = None
    """Seconds; None derives it from the interval (:func:`misfire_grace_for`)."""


def crontab_day_of_week(field: str, label: str = "--cron") -> str:
    """Translate a crontab day-of-week field to APScheduler 3's, which numbers Monday as 0.

    Crontab numbers Sunday 0 (and 7); APScheduler 3 ``from_crontab`` would read ``1-5`` as
    Tuesday to Saturday. We expand the field to an explicit list of weekday names, which both
    agree on. Names and ``*`` pass through unchanged in meaning.
    """
    text = field.strip().lower()
    if text in ("*", "?"):
        return "*"
    days: set[int] = set()
    for part in text.split(","):
        match = _DOW_PART.match(part)
        if not match:
            raise ConfigError(label, f"day-of-week field {field!r} is not a crontab expression")
        first, last, step = match.groups()
        if first == "*":
            start, end = 0, 6
        else:
            start = _weekday(first, field, label)
            end = _weekday(last, field, label) if last else (6 if step else start)
        if end == 0 and last is not None and start > 0:
            end = 7  # "5-0" or "5-7": through Sunday
        if end < start:
            raise ConfigError(label, f"day-of-week range {part!r} runs backwards")
        increment = int(step) if step else 1
        if increment < 1:
            raise ConfigError(label, f"day-of-week step in {part!r} must be at least 1")
        days.update(day % 7 for day in range(start, end + 1, increment))
    return ",".join(_WEEKDAYS[day] for day in sorted(days))


def _weekday(token: str, field: str, label: str) -> int:
    if token.isdigit():
        number = int(token)
        if number > 7:
            raise ConfigError(label, f"day-of-week {number} in {field!r} is not 0-7")
        return number
    if token in _WEEKDAYS:
        return _WEEKDAYS.index(token)
    raise ConfigError(label, f"unknown day-of-week {token!r} in {field!r}")


def build_trigger(schedule: Schedule) -> IntervalTrigger | CronTrigger:
    jitter = schedule.jitter if schedule.jitter > 0 else None
    if schedule.every is not None:
        return IntervalTrigger(seconds=schedule.every, jitter=jitter, timezone=dt.UTC)
    if schedule.cron is None:
        raise ConfigError("--every / --cron", "one of them is required")
    fields = schedule.cron.split()
    if len(fields) != 5:
        raise ConfigError("--cron", f"needs five fields (m h dom mon dow), got {schedule.cron!r}")
    fields[4] = crontab_day_of_week(fields[4])
    try:
        trigger = CronTrigger.from_crontab(" ".join(fields), timezone=dt.UTC)
    except ValueError as exc:
        raise ConfigError("--cron", f"{schedule.cron!r}: {exc}") from None
    trigger.jitter = jitter
    return trigger


def longest_gap_seconds(
    trigger: IntervalTrigger | CronTrigger, now: dt.datetime, samples: int = 200
) -> float:
    """The longest time between two fires over the next ``samples`` fires: what "one interval"
    means for alert rules (a weekday-only cron has a weekend-long gap)."""
    if isinstance(trigger, IntervalTrigger):
        return float(trigger.interval_length)
    saved, trigger.jitter = trigger.jitter, None
    try:
        previous: dt.datetime | None = None
        current: dt.datetime | None = now
        longest = 0.0
        for _ in range(samples):
            current = trigger.get_next_fire_time(previous, current)
            if current is None:
                break
            if previous is not None:
                longest = max(longest, (current - previous).total_seconds())
            previous = current
            current = current + dt.timedelta(microseconds=1)
    finally:
        trigger.jitter = saved
    if longest <= 0:
        raise ConfigError("--cron", "the expression does not fire repeatedly")
    return longest


def misfire_grace_for(interval_seconds: float) -> int:
    """Half an interval, at least 1 s, at most 15 min: late runs still happen, but a run is
    never so late that it nearly collides with the next one."""
    return int(max(1.0, min(interval_seconds / 2.0, MAX_MISFIRE_GRACE_SECONDS)))


class PassScheduler:
    """Owns the APScheduler instance; one single-threaded executor runs the pass job."""

    def __init__(
        self,
        job: Callable[[], None],
        schedule: Schedule,
        metrics: ReconcilerMetrics,
        *,
        now: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self._job = job
        self._schedule = schedule
        self._metrics = metrics
        self._now = now
        self.trigger = build_trigger(schedule)
        self.interval_seconds = longest_gap_seconds(self.trigger, now())
        self.misfire_grace = (
            int(schedule.misfire_grace)
            if schedule.misfire_grace is not None
            else misfire_grace_for(self.interval_seconds)
        )
        self._scheduler = BackgroundScheduler(
            executors={"default": ThreadPoolExecutor(max_workers=1)},
            timezone=dt.UTC,
        )
        self._scheduler.add_listener(self._on_skipped, EVENT_JOB_MISSED | EVENT_JOB_MAX_INSTANCES)

    @property
    def running(self) -> bool:
        return bool(self._scheduler.running)

    def next_run_time(self) -> dt.datetime | None:
        job = self._scheduler.get_job(JOB_ID)
        return None if job is None else job.next_run_time

    def start(self) -> None:
        options: dict[str, Any] = {
            "id": JOB_ID,
            "name": "reconciliation pass",
            "coalesce": True,
            "max_instances": 1,
            "misfire_grace_time": self.misfire_grace,
            "replace_existing": True,
        }
        if self._schedule.run_at_start:
            options["next_run_time"] = self._now()
        self._scheduler.add_job(self._job, self.trigger, **options)
        self._scheduler.start()
        log.info(
            "scheduler_started",
            every_seconds=self._schedule.every,
            cron=self._schedule.cron,
            interval_seconds=self.interval_seconds,
            jitter_seconds=self._schedule.jitter,
            misfire_grace_seconds=self.misfire_grace,
            run_at_start=self._schedule.run_at_start,
            next_run_time=str(self.next_run_time()),
        )

    def stop(self) -> None:
        """Stop scheduling; a pass already running is left to finish (the caller waits)."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def _on_skipped(self, event: Any) -> None:
        reason = SkipReason.MISFIRE if event.code == EVENT_JOB_MISSED else SkipReason.OVERRUN
        self._metrics.observe_skip(reason)
        log.warning("pass_skipped", reason=reason.value)
