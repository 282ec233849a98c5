"""Celery tasks of the maintenance app, all routed to the `maintenance` queue."""

from django.apps import apps
from django.conf import settings

from core.batching import after_commit
from core.tasks import recorded_task, task
from maintenance import archive, cleanup, files, monitor

# Maintenance jobs may run long: their own limits, inside the broker's visibility timeout.
LONG = {
    "time_limit": settings.MAINTENANCE_TASK_TIME_LIMIT,
    "soft_time_limit": settings.MAINTENANCE_TASK_TIME_LIMIT - 60,
}


@task()
def delete_files(names: list[str]) -> dict:
    """Delete these storage names unless a row still references them (idempotent)."""
    return files.delete_unreferenced(names)


def delete_files_on_commit(names: list[str]) -> None:
    """Hand these names to deletion tasks once the transaction commits, in batches."""
    after_commit("files.delete_on_commit", names, _publish_deletions)


def _publish_deletions(names: list[str]) -> None:
    names = sorted(set(names))
    for start in range(0, len(names), files.NAMES_PER_TASK):
        # A failed publish leaves orphans, never a lost file: sweep_orphaned_files finds them.
        delete_files.publish_or_fallback((names[start : start + files.NAMES_PER_TASK],), {})


@recorded_task("archive_old_records", **LONG)
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


@recorded_task("cleanup_temporary_files", **LONG)
def cleanup_temporary_files(directory: str, max_age_days: float = 7) -> cleanup.CleanupResult:
    return cleanup.cleanup_temporary_files(directory, max_age_days)


@recorded_task("sweep_orphaned_files", **LONG)
def sweep_orphaned_files(min_age_hours: float = 24) -> dict:
    return files.sweep_orphaned_files(min_age_hours=min_age_hours)


@recorded_task(monitor.CHECK_JOB)
def check_maintenance_jobs() -> dict:
    """Alert on failed, lost and missed runs (maintenance.monitor); /healthz watches this."""
    return monitor.run_checks()
