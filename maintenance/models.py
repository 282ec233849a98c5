from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from core.models import JobRun


class MaintenanceRun(JobRun):
    """Job runs as ops see them in the admin (Maintenance runs, the jobs page)."""

    class Meta:
        proxy = True


class ArchivedRecord(models.Model):
    """A row moved out of its table by archive_old_records, restorable with its primary key."""

    content_type = models.ForeignKey(ContentType, on_delete=models.PROTECT)
    object_pk = models.CharField(max_length=64)
    data = models.JSONField(encoder=DjangoJSONEncoder)
    archived_at = models.DateTimeField(default=timezone.now)
    run = models.ForeignKey(
        JobRun, null=True, blank=True, on_delete=models.SET_NULL, related_name="archived"
    )

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["content_type", "object_pk"], name="archived_once")
        ]
        indexes = [models.Index(fields=["content_type", "archived_at"], name="archive_by_type")]

    def __str__(self):
        return f"{self.content_type.model} #{self.object_pk}"


class Alert(models.Model):
    """Something ops must hear about: a failed or lost run, or a job that did not run.

    `key` makes each alert happen once (a run's failure, one missed period of a schedule);
    `mailed_at` and `posted_at` record delivery, so a channel that failed is retried by
    the next check and one that succeeded is never repeated.
    """

    class Kind(models.TextChoices):
        FAILED = "failed", "run failed"
        MISSED = "missed", "job did not run"

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
