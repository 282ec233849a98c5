"""The jobs' records: every run (jobs.runs), the alerts sent to ops (jobs.alerts), and since
when each schedule is expected to run (jobs.monitor)."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class JobRun(models.Model):
    """One run of a recorded job: what it was asked, what it did, how it ended."""

    class Status(models.TextChoices):
        RUNNING = "running", _("Running")
        SUCCEEDED = "succeeded", _("Succeeded")
        FAILED = "failed", _("Failed")
        SKIPPED = "skipped", _("skipped (already running)")

    task = models.CharField(max_length=200, db_index=True)
    arguments = models.JSONField(default=dict, blank=True)
    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.RUNNING)
    counts = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-started_at", "-id"]
        indexes = [models.Index(fields=["task", "-started_at"], name="run_task_recent")]

    def __str__(self):
        return f"{self.task} at {self.started_at:%Y-%m-%d %H:%M} ({self.status})"

    @property
    def duration(self):
        return self.finished_at - self.started_at if self.finished_at else None

    @property
    def error_reason(self) -> str:
        """The line of the error that says what went wrong (a traceback's last line)."""
        lines = self.error.strip().splitlines()
        return lines[-1].strip() if lines else ""


class Alert(models.Model):
    """Something ops must hear about: a failed or lost run, or a job that did not run.

    `key` makes each alert happen once (a run's failure, one missed period of a schedule);
    `mailed_at` and `posted_at` record delivery, so a channel that failed is retried by
    the next check and one that succeeded is never repeated.
    """

    class Kind(models.TextChoices):
        FAILED = "failed", "run failed"
        MISSED = "missed", "job did not run"
        CONDITION = "condition", "condition to look at"

    key = models.CharField(max_length=200, unique=True)
    kind = models.CharField(max_length=20, choices=Kind.choices)
    job = models.CharField(max_length=200)
    subject = models.CharField(max_length=200)
    body = models.TextField()
    run = models.ForeignKey(
        JobRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="alerts"
    )
    created_at = models.DateTimeField(default=timezone.now, db_index=True)
    mailed_at = models.DateTimeField(null=True, blank=True)
    posted_at = models.DateTimeField(null=True, blank=True)
    attempts = models.PositiveIntegerField(default=0)
    last_error = models.TextField(blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]

    def __str__(self):
        return self.subject


class ScheduleWatch(models.Model):
    """Since when the checks expect a schedule to run: its creation, last change or enabling.

    A job that has never run is judged from `since`, so a new or just edited schedule is not
    reported as missed for the periods before it existed.
    """

    periodic_task = models.OneToOneField(
        "django_celery_beat.PeriodicTask", on_delete=models.CASCADE, related_name="watch"
    )
    schedule = models.CharField(max_length=300)
    since = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"{self.periodic_task} since {self.since:%Y-%m-%d %H:%M}"
