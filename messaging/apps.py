from django.apps import AppConfig


class MessagingConfig(AppConfig):
    name = "messaging"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from messaging import (
            effects,  # noqa: F401  (declares the outbox topics the relay publishes)
            signals,  # noqa: F401  (connects the receivers)
        )
