"""The record of every job run: what it was asked, what it did, how it ended (core.runs)."""

from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class JobRun(models.Model):
    """One run of a recorded job: what it was asked, what it did, how it ended.

    The ops app shows them as `maintenance.MaintenanceRun` (a proxy), where they were
    first recorded: hence the table's name.
    """

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
        db_table = "maintenance_maintenancerun"
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
