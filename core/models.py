from django.db import models
from django.utils import timezone


class OutboxRow(models.Model):
    """One effect of a committed write, waiting for the relay (core.outbox): written in the
    write's transaction, deleted by the relay once what it stands for is published."""

    topic = models.CharField(max_length=100)
    payload = models.JSONField()
    created_at = models.DateTimeField(default=timezone.now)
    #: The W3C traceparent of the write that recorded it (core.telemetry), or "".
    trace = models.CharField(max_length=55, blank=True, default="", db_default="")

    class Meta:
        db_table = "core_outbox"
        verbose_name = "outbox row"

    def __str__(self) -> str:
        return f"{self.topic} #{self.pk}"
