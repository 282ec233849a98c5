"""The periodic jobs beat runs, created once and then owned by ops in the admin."""

import json

from django.conf import settings
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask

from jobs import monitor


def default_jobs() -> list[dict]:
    return [
        {
            "name": "archive old messages",
            "task": "maintenance.archive_old_records",
            "crontab": _daily_at(settings.MAINTENANCE_ARCHIVE_HOUR),
            "kwargs": {
                "model": "messaging.Message",
                "date_field": "timestamp",
                "days_threshold": 365,
            },
        },
        {
            "name": "clean temporary files",
            "task": "maintenance.cleanup_temporary_files",
            "crontab": _daily_at(settings.MAINTENANCE_CLEANUP_HOUR),
            "kwargs": {"directory": str(settings.MEDIA_ROOT / "tmp"), "max_age_days": 7},
        },
        {
            "name": "sweep orphaned files",
            "task": "maintenance.sweep_orphaned_files",
            "crontab": _daily_at(settings.MAINTENANCE_CLEANUP_HOUR, minute=30),
            "kwargs": {"min_age_hours": 24},
        },
        {
            "name": "reconcile notifications",
            "task": "messaging.reconcile_notifications",
            "interval": _every_minutes(settings.MAINTENANCE_RECONCILE_MINUTES),
            "kwargs": {},
        },
        {
            "name": "check jobs",
            "task": "jobs.check_jobs",
            "interval": _every_minutes(settings.JOBS_CHECK_MINUTES),
            "kwargs": {},
        },
    ]


def setup_schedules() -> list[str]:
    """Create the default schedules unless a job of that name exists. Returns those created.

    An existing job is left as ops set it in the admin, so running this at every start
    never undoes their changes.
    """
    created = []
    for job in default_jobs():
        name = job.pop("name")
        job["kwargs"] = json.dumps(job["kwargs"])
        _, was_created = PeriodicTask.objects.get_or_create(name=name, defaults=job)
        if was_created:
            created.append(name)
    monitor.watch_all()
    return created


def _daily_at(hour: int, minute: int = 0) -> CrontabSchedule:
    # Every field explicit: a crontab with only day_of_week set runs every minute that day.
    return CrontabSchedule.objects.get_or_create(
        minute=str(minute),
        hour=str(hour),
        day_of_week="*",
        day_of_month="*",
        month_of_year="*",
        timezone=settings.TIME_ZONE,
    )[0]


def _every_minutes(minutes: int) -> IntervalSchedule:
    return IntervalSchedule.objects.get_or_create(every=minutes, period=IntervalSchedule.MINUTES)[0]
