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


class UsernameSkeleton(models.Model):
    """A username as it looks (accounts.usernames.skeleton), unique: the database refuses a
    second account whose name reads like an existing one, whichever registration wins a race.
    """

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="username_skeleton",
    )
    skeleton = models.CharField(max_length=600, unique=True)

    def __str__(self):
        return self.skeleton
