"""Recorded jobs (jobs/), the maintenance jobs (maintenance/), /healthz, alerts and mail."""

from email.utils import getaddresses
from pathlib import Path

from config.settings.base import MEDIA_ROOT
from config.settings.env import env, hour, positive, renamed

# A job's lock expires this long after its worker stops renewing it (a killed worker).
JOBS_LOCK_TTL = renamed("int", "JOBS_LOCK_TTL", "MAINTENANCE_LOCK_TTL", 60, validate=positive)
# The job checks (failed, lost and missed runs) run this often; /healthz reports them
# overdue after three periods without a check.
JOBS_CHECK_MINUTES = renamed(
    "int", "JOBS_CHECK_MINUTES", "MAINTENANCE_CHECK_MINUTES", 5, validate=positive
)
# A scheduled job is reported as not run when nothing started this long after it was due.
JOBS_ALERT_GRACE_MINUTES = renamed(
    "int", "JOBS_ALERT_GRACE_MINUTES", "MAINTENANCE_ALERT_GRACE_MINUTES", 15, validate=positive
)

MAINTENANCE_TASK_TIME_LIMIT = env.int("MAINTENANCE_TASK_TIME_LIMIT", 3600, validate=positive)
# Directories cleanup_temporary_files may touch; anything outside them is refused.
MAINTENANCE_CLEANUP_ROOTS = env.list(
    "MAINTENANCE_CLEANUP_ROOTS", [MEDIA_ROOT / "tmp"], subcast=Path
)
# Off-peak hours (in TIME_ZONE) for the nightly jobs, and the reconcile period.
MAINTENANCE_ARCHIVE_HOUR = env.int("MAINTENANCE_ARCHIVE_HOUR", 3, validate=hour)
MAINTENANCE_CLEANUP_HOUR = env.int("MAINTENANCE_CLEANUP_HOUR", 4, validate=hour)
MAINTENANCE_RECONCILE_MINUTES = env.int("MAINTENANCE_RECONCILE_MINUTES", 5, validate=positive)

# What GET /healthz checks (core.health): a name and a function that raises, or returns what
# is wrong.
HEALTH_CHECKS = {
    "database": "core.health.database",
    "cache": "core.health.cache",
    "broker": "core.health.broker",
    "jobs": "jobs.monitor.checks_status",
}
HEALTH_REPORTS = {
    "replicas": "core.replicas.health",
    "events": "core.events.health",
    "outbox": "core.outbox.health",
}

# Alerts go by mail to ADMINS ("Name <address>" or plain addresses, comma-separated) and, when
# ALERT_WEBHOOK_URL is set, as a JSON POST there (Slack-style: the message is in "text").
# https://docs.djangoproject.com/en/5.2/topics/email/
ADMINS = [
    (name or address, address) for name, address in getaddresses([env.str("ADMINS", "")]) if address
]
ALERT_WEBHOOK_URL = env.str("ALERT_WEBHOOK_URL", "")
ALERT_WEBHOOK_TIMEOUT = env.float("ALERT_WEBHOOK_TIMEOUT", 3.0, validate=positive)
# An alert whose delivery keeps failing is retried by each check for this long.
ALERT_RETRY_HOURS = env.int("ALERT_RETRY_HOURS", 24, validate=positive)

EMAIL_HOST = env.str("EMAIL_HOST", "")
# Without a mail server, mail (alerts included) is written to the log instead of lost in a
# connection error.
EMAIL_BACKEND = env.str(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env.int("EMAIL_PORT", 25, validate=positive)
EMAIL_HOST_USER = env.str("EMAIL_HOST_USER", "")
EMAIL_HOST_PASSWORD = env.str("EMAIL_HOST_PASSWORD", "")
EMAIL_USE_TLS = env.bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env.bool("EMAIL_USE_SSL", False)
# A mail server that does not answer must not hold a worker (or a check) for long.
EMAIL_TIMEOUT = env.float("EMAIL_TIMEOUT", 10, validate=positive)
SERVER_EMAIL = env.str("SERVER_EMAIL", "platform@localhost")
DEFAULT_FROM_EMAIL = env.str("DEFAULT_FROM_EMAIL", SERVER_EMAIL)
EMAIL_SUBJECT_PREFIX = env.str("EMAIL_SUBJECT_PREFIX", "[platform] ")
