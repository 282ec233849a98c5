import os

from django.conf import settings
from django.core.asgi import get_asgi_application

from celery_app import app as celery_app
from core import redis_health

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
# Requests publish tasks: a dead or hung broker must cost a request at most one short
# timeout (core/redis_health.py).
redis_health.guard_web_publishing(celery_app, settings.CELERY_BROKER_PUBLISH_TIMEOUT)
application = get_asgi_application()
