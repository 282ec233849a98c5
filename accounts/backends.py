"""The session's user, read with their preferences in the same query."""

from django.contrib.auth import get_user_model
from django.contrib.auth.backends import ModelBackend


class PreferencesBackend(ModelBackend):
    """Django's ModelBackend, whose user comes with their preferences joined: every page
    applies them (accounts.middleware), and a second query per request would cost more."""

    def get_user(self, user_id):
        model = get_user_model()
        try:
            user = model._default_manager.select_related("preferences").get(pk=user_id)
        except model.DoesNotExist:
            return None
        return user if self.user_can_authenticate(user) else None
