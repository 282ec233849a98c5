"""The Celery application: configured from Django settings (CELERY_*), tasks autodiscovered."""

import os

from celery import Celery

# Must precede Celery(): with Django configured, tasks are Django tasks (core.tasks).
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

app = Celery("platform", task_cls="core.tasks:OutboxTask")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# After `app`: importing the config package imports this module. Importing these connects
# the kombu guard (workers survive a Redis outage), the tasks' database connection reuse,
# their metrics and their traces.
from core import kombu_fixes, task_metrics, telemetry, worker_db  # noqa: E402, F401
