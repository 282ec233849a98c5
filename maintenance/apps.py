from django.apps import AppConfig


class MaintenanceConfig(AppConfig):
    name = "maintenance"
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from celery.signals import beat_init

        from maintenance import signals

        signals.connect_file_receivers()
        beat_init.connect(signals.log_schedules, dispatch_uid="maintenance.log_schedules")
