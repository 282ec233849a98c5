from django.contrib.contenttypes.models import ContentType
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models
from django.utils import timezone

from jobs.models import JobRun


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
