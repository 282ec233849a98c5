"""Logging: plain lines, or one JSON object a line (LOG_FORMAT=json: core/logs.py), for web,
worker and beat alike."""

from environs import validate

from config.settings.env import env

LOG_FORMAT = env.str("LOG_FORMAT", "plain", validate=validate.OneOf(["plain", "json"]))
LOG_LEVEL = env.log_level("LOG_LEVEL", "INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {
            "()": "core.logs.PlainFormatter",
            "format": "%(asctime)s %(levelname)s %(name)s %(message)s",
        },
        "json": {"()": "core.logs.JSONFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": LOG_LEVEL},
    # Django's default configuration gives these loggers a console handler of their own, on
    # top of the root's: every 4xx or 5xx line would be printed twice, in two formats.
    "loggers": {
        name: {"handlers": ["console"], "level": LOG_LEVEL, "propagate": False}
        for name in ("django", "django.server")
    },
}
# Celery replaces the root logger's handlers with its own format unless told not to.
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT == "plain"
