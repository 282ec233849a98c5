from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone


class MaintenanceRun(models.Model):
    """One run of a maintenance job: what it was asked, what it did, how it ended."""

    class Status(models.TextChoices):
        RUNNING = "running"
        SUCCEEDED = "succeeded"
        FAILED = "failed"
        SKIPPED = "skipped", "skipped (already running)"

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


class ArchivedRecord(models.Model):
    """A row moved out of its table by archive_old_records, restorable with its primary key."""

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_pk = models.CharField(max_length=64)
    data = models.JSONField(encoder=DjangoJSONEncoder)
    archived_at = models.DateTimeField(default=timezone.now)
    run = models.ForeignKey(
        MaintenanceRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="archived"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["content_type", "object_pk"], name="archived_once")
        ]
        indexes = [models.Index(fields=["content_type", "archived_at"], name="archive_by_type")]

    def __str__(self):
        return f"{self.content_type.model} #{self.object_pk}"
