"""Celery tasks of the maintenance app, all routed to the `maintenance` queue by their names
(`maintenance.*`), which are stable: schedules and routes refer to them."""

from django.apps import apps
from django.conf import settings

from core.tasks import legacy_name
from jobs.runs import recorded_task
from maintenance import archive, cleanup, sweep

# Maintenance jobs may run long: their own limits, inside the broker's visibility timeout.
LONG = {
    "time_limit": settings.MAINTENANCE_TASK_TIME_LIMIT,
    "soft_time_limit": settings.MAINTENANCE_TASK_TIME_LIMIT - 60,
}


@recorded_task("archive_old_records", name="maintenance.archive_old_records", **LONG)
def archive_old_records(
    model: str,
    date_field: str,
    days_threshold: int = 365,
    filters: dict | None = None,
    batch_size: int = 1000,
    *,
    run,
) -> archive.ArchiveResult:
    return archive.archive_old_records(
        apps.get_model(model),
        date_field,
        days_threshold,
        filters=filters,
        batch_size=batch_size,
        run=run,
    )


@recorded_task("cleanup_temporary_files", name="maintenance.cleanup_temporary_files", **LONG)
def cleanup_temporary_files(directory: str, max_age_days: float = 7) -> cleanup.CleanupResult:
    return cleanup.cleanup_temporary_files(directory, max_age_days)


@recorded_task("sweep_orphaned_files", name="maintenance.sweep_orphaned_files", **LONG)
def sweep_orphaned_files(min_age_hours: float = 24) -> dict:
    return sweep.sweep_orphaned_files(min_age_hours=min_age_hours)


# Messages of the previous release, published under module paths (jobs 0003 renamed them).
legacy_name(archive_old_records, "maintenance.tasks.archive_old_records")
legacy_name(cleanup_temporary_files, "maintenance.tasks.cleanup_temporary_files")
legacy_name(sweep_orphaned_files, "maintenance.tasks.sweep_orphaned_files")
