import os

from django.conf import settings
from django.core.wsgi import get_wsgi_application

from celery_app import app as celery_app
from core import redis_health, telemetry

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Requests publish tasks: a dead or hung broker must cost a request at most one short
# timeout (core/redis_health.py).
redis_health.guard_web_publishing(celery_app, settings.CELERY_BROKER_PUBLISH_TIMEOUT)
# Before the application loads its middleware: Django's instrumentation adds one.
telemetry.start("web")
application = get_wsgi_application()
