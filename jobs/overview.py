"""The ops view of the scheduled jobs: schedule, next run, recent runs, the queues, and
running a job now."""

import json
import logging
from concurrent.futures import ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from dataclasses import dataclass, field
from datetime import datetime

from celery.schedules import crontab
from django.conf import settings
from django.core.cache import cache
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from celery_app import app
from core import redis_urls
from jobs.models import JobRun

logger = logging.getLogger("jobs.schedules")

HISTORY = 30  # runs per job on the chart
QUEUES = ("default", "maintenance")
# kombu's Redis transport keeps a queue's messages of each priority step in a list of its own.
PRIORITY_SUFFIXES = ("", "\x06\x163", "\x06\x166", "\x06\x169")
# The queue figures are read at most this often, and never wait longer than this.
STATUS_CACHE_SECONDS = 15
STATUS_TIMEOUT = 1.0
# Longest walk through the due times of a schedule that stopped running long ago.
MAX_PERIODS = 10_000


@dataclass
class Job:
    task: PeriodicTask
    next_run: datetime | None
    runs: list[JobRun] = field(default_factory=list)  # oldest first

    @property
    def last_run(self) -> JobRun | None:
        return self.runs[-1] if self.runs else None


@dataclass
class QueueStatus:
    depths: dict[str, int | None]  # None: the broker did not answer
    workers: int | None  # None: could not ask


def job_name(task_path: str) -> str:
    """The job name runs are recorded under: the task's function name."""
    return task_path.rsplit(".", 1)[-1]


def scheduled_jobs() -> list[Job]:
    tasks = list(
        PeriodicTask.objects.select_related("crontab", "interval", "solar", "clocked")
        .exclude(task__startswith="celery.")
        .order_by("name")
    )
    now = timezone.now()
    jobs = []
    for task in tasks:
        runs = JobRun.objects.filter(task=job_name(task.task)).order_by("-started_at")
        jobs.append(Job(task, _next_run(task, now), list(runs[:HISTORY])[::-1]))
    return jobs


def next_due(task: PeriodicTask, after: datetime) -> datetime:
    """The first time strictly after `after` at which beat should send the task."""
    schedule = task.schedule
    if isinstance(schedule, crontab):
        start, delta, _ = schedule.remaining_delta(after)
        return start + delta
    return after + schedule.run_every


def last_due(task: PeriodicTask, *, after: datetime, until: datetime) -> datetime | None:
    """The latest due time in (after, until], or None when there is none."""
    if task.clocked_id or task.solar_id:  # one-off and sunrise jobs: not watched
        return None
    found = None
    due = next_due(task, after)
    for _ in range(MAX_PERIODS):
        if due > until:
            break
        found, due = due, next_due(task, due)
    return found


def run_now(task: PeriodicTask) -> str:
    """Queue the job as beat would; returns the task id."""
    result = app.send_task(
        task.task, args=json.loads(task.args or "[]"), kwargs=json.loads(task.kwargs or "{}")
    )
    return result.id


def queue_status() -> QueueStatus:
    """Messages waiting in each queue and live workers, cached briefly; never hangs."""
    status = cache.get("maintenance:queue-status")
    if status is None:
        pool = ThreadPoolExecutor(max_workers=2)
        try:
            depths = pool.submit(_queue_depths)
            workers = pool.submit(_live_workers)
            status = QueueStatus(
                depths=_bounded(depths, dict.fromkeys(QUEUES)), workers=_bounded(workers, None)
            )
        finally:
            # Not `with`: its exit would wait for a hung call, defeating the bound. A call
            # still hanging ends on its own socket timeout.
            pool.shutdown(wait=False)
        cache.set("maintenance:queue-status", status, STATUS_CACHE_SECONDS)
    return status


def _bounded(future, default):
    try:
        return future.result(timeout=STATUS_TIMEOUT)
    except (FutureTimeout, Exception) as error:
        logger.warning("queue status unavailable: %r", error)
        return default


def _queue_depths() -> dict[str, int]:
    client = redis_urls.client(
        settings.CELERY_BROKER_URL, socket_timeout=0.5, socket_connect_timeout=0.5
    )
    try:
        pipe = client.pipeline(transaction=False)
        for queue in QUEUES:
            for suffix in PRIORITY_SUFFIXES:
                pipe.llen(queue + suffix)
        lengths = pipe.execute()
    finally:
        client.close()
    step = len(PRIORITY_SUFFIXES)
    return {q: sum(lengths[i * step : (i + 1) * step]) for i, q in enumerate(QUEUES)}


def _live_workers() -> int:
    return len(app.control.ping(timeout=STATUS_TIMEOUT / 2) or [])


def _next_run(task: PeriodicTask, now: datetime) -> datetime | None:
    """When beat will send it next: the schedule's own time, not an estimate from now."""
    if not task.enabled or task.clocked_id or task.solar_id:
        return task.clocked.clocked_time if task.enabled and task.clocked_id else None
    if task.crontab_id:
        return next_due(task, now)
    last = task.last_run_at or now
    return max(now, next_due(task, last))


def log_schedules(sender=None, **kwargs) -> None:
    """At beat's start, one line per schedule with its next run: the log answers "is the
    nightly job scheduled?"."""
    for job in scheduled_jobs():
        if job.next_run is None:
            logger.info("schedule %r (%s): disabled", job.task.name, job.task.task)
            continue
        logger.info(
            "schedule %r (%s): %s, next run %s",
            job.task.name,
            job.task.task,
            job.task.scheduler,
            job.next_run.isoformat(),
        )
