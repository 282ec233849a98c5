"""Celery tasks of the maintenance app, all routed to the `maintenance` queue."""

from celery import shared_task
from django.apps import apps
from django.conf import settings
from django.db import OperationalError

from maintenance import archive, cleanup, files, monitor
from maintenance.runs import RunSkipped, recorded_run

# Maintenance jobs may run long: their own limits, inside the broker's visibility timeout.
LONG = {
    "time_limit": settings.MAINTENANCE_TASK_TIME_LIMIT,
    "soft_time_limit": settings.MAINTENANCE_TASK_TIME_LIMIT - 60,
}
# A database that restarts raises OperationalError for a few seconds: retry with backoff.
RETRY_ON_DB_ERRORS = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": True,
    "retry_jitter": True,
    "max_retries": 8,
}


@shared_task(**RETRY_ON_DB_ERRORS)
def delete_files(names: list[str]) -> dict:
    """Delete these storage names unless a row still references them (idempotent)."""
    return files.delete_unreferenced(names)


@shared_task(**LONG, **RETRY_ON_DB_ERRORS)
def archive_old_records(
    model: str,
    date_field: str,
    days_threshold: int = 365,
    filters: dict | None = None,
    batch_size: int = 1000,
) -> dict | None:
    arguments = {
        "model": model,
        "date_field": date_field,
        "days_threshold": days_threshold,
        "filters": filters,
        "batch_size": batch_size,
    }
    try:
        with recorded_run("archive_old_records", arguments) as run:
            result = archive.archive_old_records(
                apps.get_model(model),
                date_field,
                days_threshold,
                filters=filters,
                batch_size=batch_size,
                run=run,
            )
            run.counts = result.as_counts()
            return run.counts
    except RunSkipped:
        return None


@shared_task(**LONG)
def cleanup_temporary_files(directory: str, max_age_days: float = 7) -> dict | None:
    arguments = {"directory": directory, "max_age_days": max_age_days}
    try:
        with recorded_run("cleanup_temporary_files", arguments) as run:
            result = cleanup.cleanup_temporary_files(directory, max_age_days)
            run.counts = result.as_counts()
            return run.counts
    except RunSkipped:
        return None


@shared_task(**LONG, **RETRY_ON_DB_ERRORS)
def sweep_orphaned_files(min_age_hours: float = 24) -> dict | None:
    try:
        with recorded_run("sweep_orphaned_files", {"min_age_hours": min_age_hours}) as run:
            run.counts = files.sweep_orphaned_files(min_age_hours=min_age_hours)
            return run.counts
    except RunSkipped:
        return None


@shared_task(**RETRY_ON_DB_ERRORS)
def check_maintenance_jobs() -> dict | None:
    """Alert on failed, lost and missed runs (maintenance.monitor); /healthz watches this."""
    try:
        with recorded_run(monitor.CHECK_JOB, {}) as run:
            run.counts = monitor.run_checks()
            return run.counts
    except RunSkipped:
        return None
