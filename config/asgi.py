import os

from django.conf import settings
from django.core.asgi import get_asgi_application

from celery_app import app as celery_app
from core import redis_health, telemetry

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Requests publish tasks: a dead or hung broker must cost a request at most one short
# timeout (core/redis_health.py).
redis_health.guard_web_publishing(celery_app, settings.CELERY_BROKER_PUBLISH_TIMEOUT)
# Before the application loads its middleware: Django's instrumentation adds one.
telemetry.start("events")
django_application = get_asgi_application()

# After Django's set-up, which the streams' module needs.
from messaging.streams import with_streams  # noqa: E402

# The live event streams (/events/, /api/v1/events/), then Django for everything else.
application = with_streams(django_application)
