from django.conf import settings
from django.db import models
from django.utils import timezone


class AccountDeletion(models.Model):
    """An accepted account deletion whose purge has not finished yet (the purge's outbox)."""

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, primary_key=True
    )
    requested_at = models.DateTimeField(default=timezone.now)

    def __str__(self):
        return f"deletion of user {self.user_id}"
