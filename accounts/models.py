from django.conf import settings
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


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


class Preferences(models.Model):
    """How one person wants the pages: their time zone, language and theme, and whether a
    message arriving while they look elsewhere raises a browser notification or a sound.
    Read with the user on every request (accounts.backends: a join, not a query) and applied
    by accounts.middleware.UserPreferences. A user without a row has the defaults."""

    class Theme(models.TextChoices):
        SYSTEM = "system", _("Same as the device")
        LIGHT = "light", _("Light")
        DARK = "dark", _("Dark")

    user = models.OneToOneField(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        primary_key=True,
        related_name="preferences",
    )
    # Blank: the browser's (times.js renders times in its zone; the server writes UTC).
    time_zone = models.CharField(_("time zone"), max_length=64, blank=True)
    # Blank: the browser's language (or the header's switch, kept in a cookie).
    language = models.CharField(_("language"), max_length=8, blank=True, choices=settings.LANGUAGES)
    theme = models.CharField(_("theme"), max_length=8, choices=Theme.choices, default=Theme.SYSTEM)
    notifications = models.BooleanField(_("browser notifications"), default=False)
    sound = models.BooleanField(_("sound"), default=False)

    class Meta:
        verbose_name_plural = "preferences"

    def __str__(self):
        return f"preferences of user {self.user_id}"


def preferences_of(user) -> Preferences:
    """The user's preferences, or the defaults (unsaved) for one who never set any."""
    try:
        return user.preferences
    except Preferences.DoesNotExist:
        return Preferences(user=user)
