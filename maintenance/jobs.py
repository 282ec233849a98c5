"""The ops view of the scheduled jobs: schedule, next run, last run, and running one now."""

import json
from dataclasses import dataclass
from datetime import datetime

from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from celery_app import app
from maintenance.models import MaintenanceRun


@dataclass
class Job:
    task: PeriodicTask
    next_run: datetime | None
    last_run: MaintenanceRun | None


def job_name(task_path: str) -> str:
    """The job name runs are recorded under: the task's function name."""
    return task_path.rsplit(".", 1)[-1]


def scheduled_jobs() -> list[Job]:
    tasks = list(
        PeriodicTask.objects.select_related("crontab", "interval", "solar", "clocked")
        .exclude(task__startswith="celery.")
        .order_by("name")
    )
    names = {job_name(t.task) for t in tasks}
    last: dict[str, MaintenanceRun] = {}
    for run in MaintenanceRun.objects.filter(task__in=names).order_by("task", "-started_at"):
        last.setdefault(run.task, run)
    return [Job(t, _next_run(t), last.get(job_name(t.task))) for t in tasks]


def run_now(task: PeriodicTask) -> str:
    """Queue the job as beat would; returns the task id."""
    result = app.send_task(
        task.task, args=json.loads(task.args or "[]"), kwargs=json.loads(task.kwargs or "{}")
    )
    return result.id


def _next_run(task: PeriodicTask) -> datetime | None:
    if not task.enabled:
        return None
    schedule = task.schedule
    now = timezone.now()
    last = task.last_run_at or now
    return now + schedule.remaining_estimate(last)
