from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class JobsConfig(AppConfig):
    """Recorded jobs: runs, locks, the command base, schedules, their monitor and alerts, and
    the ops' jobs page. Which jobs exist is the other apps' business (maintenance/,
    messaging/); this app knows them by their task names only."""

    name = "jobs"
    verbose_name = _("Jobs")
    default_auto_field = "django.db.models.BigAutoField"

    def ready(self):
        from celery.signals import beat_init

        from core import task_metrics
        from jobs import monitor, overview

        beat_init.connect(overview.log_schedules, dispatch_uid="jobs.log_schedules")
        task_metrics.collectors.append(monitor.OverdueCollector())
