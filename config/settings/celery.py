"""Celery on the Redis broker.
https://docs.celeryq.dev/en/stable/userguide/configuration.html"""

from kombu import Queue

from config.settings.base import TIME_ZONE
from config.settings.cache import REDIS_SENTINEL_MASTER, REDIS_URL
from config.settings.env import env, non_negative, positive
from core import redis_urls

CELERY_BROKER_URL = REDIS_URL
CELERY_RESULT_BACKEND = REDIS_URL
CELERY_TASK_SERIALIZER = "json"
CELERY_RESULT_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
CELERY_ENABLE_UTC = True
# Results are never read by the application (job runs are recorded in the database); not
# storing them also spares every publish a round trip to the result backend.
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
# Without it Celery opens a database connection per task; core/worker_db.py says why.
CELERY_DB_REUSE_MAX = env.int("CELERY_DB_REUSE_MAX", 1000, validate=non_negative)
CELERY_TASK_TIME_LIMIT = env.int("CELERY_TASK_TIME_LIMIT", 300, validate=positive)
CELERY_TASK_SOFT_TIME_LIMIT = env.int("CELERY_TASK_SOFT_TIME_LIMIT", 270, validate=positive)
# Task events cost a Redis publish per task state; Flower switches them on in the workers
# it watches (enable_events), so they are off unless somebody is looking.
CELERY_WORKER_SEND_TASK_EVENTS = env.bool("CELERY_WORKER_SEND_TASK_EVENTS", False)

# Redis has no real acknowledgements: an unacked message comes back after this many seconds.
# It must be longer than the longest task (maintenance tasks: MAINTENANCE_TASK_TIME_LIMIT).
CELERY_VISIBILITY_TIMEOUT = env.int("CELERY_VISIBILITY_TIMEOUT", 7200, validate=positive)
# Publishing happens after commit, inside the request: bound it so a dead or hung broker
# costs the request well under a second (timeouts x tries; then core/redis_health.py skips
# it for a while), then the publish is logged as failed and the reconcile jobs catch up.
CELERY_BROKER_CONNECTION_TIMEOUT = env.float(
    "CELERY_BROKER_CONNECT_TIMEOUT", 0.3, validate=positive
)
CELERY_BROKER_TRANSPORT_OPTIONS = redis_urls.transport_options(
    REDIS_URL,
    master=REDIS_SENTINEL_MASTER,
    options={
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
        "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
        "socket_timeout": env.float("CELERY_BROKER_SOCKET_TIMEOUT", 2.0, validate=positive),
        # How often a worker looks for messages whose visibility timeout ran out (a killed
        # worker's): every this many seconds (kombu's default is about 100).
        "unacked_restore_interval": env.int(
            "CELERY_UNACKED_RESTORE_SECONDS", 60, validate=positive
        ),
        "unacked_restore_throttle": 1,
    },
)
CELERY_RESULT_BACKEND_TRANSPORT_OPTIONS = redis_urls.transport_options(
    REDIS_URL,
    master=REDIS_SENTINEL_MASTER,
    options={
        "visibility_timeout": CELERY_VISIBILITY_TIMEOUT,
        "socket_connect_timeout": CELERY_BROKER_CONNECTION_TIMEOUT,
        "socket_timeout": CELERY_BROKER_TRANSPORT_OPTIONS["socket_timeout"],
    },
)
# Web processes publish with this socket timeout instead (config/wsgi.py): a hung broker
# then costs a request one such timeout, and later requests none for a while.
CELERY_BROKER_PUBLISH_TIMEOUT = env.float("CELERY_BROKER_PUBLISH_TIMEOUT", 0.25, validate=positive)
CELERY_BROKER_CONNECTION_RETRY_ON_STARTUP = True
# Back within a second of the broker's return, not after kombu's backoff of up to 30 s.
CELERY_WORKER_CONSUMER = "core.worker_consumer:Consumer"
CELERY_TASK_PUBLISH_RETRY_POLICY = {
    "max_retries": 1,
    "interval_start": 0,
    "interval_step": 0.1,
    "interval_max": 0.1,
}

CELERY_TASK_DEFAULT_QUEUE = "default"
CELERY_TASK_QUEUES = (Queue("default"), Queue("maintenance"))
# Long or periodic work never queues behind (or in front of) users' notifications. Routes
# name tasks by their stable names (`name=` on each task), never by module path.
CELERY_TASK_ROUTES = {
    "maintenance.*": {"queue": "maintenance"},
    "files.*": {"queue": "maintenance"},
    "jobs.*": {"queue": "maintenance"},
    "accounts.purge_account": {"queue": "maintenance"},
    "messaging.reconcile_notifications": {"queue": "maintenance"},
}
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"
