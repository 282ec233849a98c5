"""Apply a signed-in person's preferences (accounts.models.Preferences) to their request:
their time zone to the times the server writes, their language to the page."""

import zoneinfo

from django.utils import timezone, translation

from accounts.models import preferences_of


class UserPreferences:
    """After AuthenticationMiddleware (and LocaleMiddleware, whose choice from the cookie or
    the browser a saved language replaces)."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        user = getattr(request, "user", None)
        if user is None or not user.is_authenticated:
            return self.get_response(request)
        preferences = preferences_of(user)
        if preferences.language:
            translation.activate(preferences.language)
            request.LANGUAGE_CODE = preferences.language
        zone = None
        if preferences.time_zone:
            try:
                zone = zoneinfo.ZoneInfo(preferences.time_zone)
            except (zoneinfo.ZoneInfoNotFoundError, ValueError):
                zone = None  # a zone the system no longer knows: UTC, as before
        if zone is not None:
            timezone.activate(zone)
        try:
            return self.get_response(request)
        finally:
            timezone.deactivate()
