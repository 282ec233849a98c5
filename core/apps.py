from django.apps import AppConfig


class CoreConfig(AppConfig):
    name = "core"
    verbose_name = "Platform"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from django.db.backends.signals import connection_created

        from core import (
            checks,  # noqa: F401  (registers the system checks)
            replicas,
        )

        connection_created.connect(replicas.watch_queries, dispatch_uid="core.watch_replicas")
