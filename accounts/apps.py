from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class AccountsConfig(AppConfig):
    """People's accounts: registration (one path for the web and the API), API tokens,
    deletion and the purge that follows it, the first admin. It knows no other app: what
    an app keeps of a user it removes when `services.user_data_purge` asks (messaging's
    messages, for one)."""

    name = "accounts"
    verbose_name = _("Accounts")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from accounts import signals  # noqa: F401  (connects the receivers)
