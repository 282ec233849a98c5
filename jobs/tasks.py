"""The jobs app's own task: the periodic checks of every scheduled job."""

from core.tasks import legacy_name
from jobs import monitor
from jobs.runs import recorded_task


@recorded_task(monitor.CHECK_JOB, name="jobs.check_jobs")
def check_jobs() -> dict:
    """Alert on failed, lost and missed runs (jobs.monitor); /healthz watches this."""
    return monitor.run_checks()


# Messages of the previous release, published under module paths (jobs 0003 renamed them).
legacy_name(check_jobs, "maintenance.tasks.check_maintenance_jobs")
