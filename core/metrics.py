"""The platform's Prometheus metrics, declared once (prometheus-client).

Each process records into its service's directory (core/metrics_server.py); the service
serves their sum on its METRICS_PORT. deploy/prometheus/ scrapes them and alerts on them,
deploy/grafana/ graphs them, and tests/test_metrics.py holds the dashboard to this list.

Why prometheus-client and not django-prometheus: django-prometheus counts every request
twice over (a middleware before and one after the others, a dozen series per request) and
wraps the database and cache backends; what ops ask here is one histogram per route and the
platform's own lags, which cost a single observation each (docs/benchmarks.md measures it).
"""

import time
from datetime import datetime

from prometheus_client import Counter, Gauge, Histogram

PREFIX = "platform_"

# Latencies a person notices: from a few ms to a minute.
LAG_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.075, 0.1, 0.15, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60)

# --- Requests (web and event servers: core.middleware.RequestMetrics) ----------------------

REQUESTS = Counter(
    PREFIX + "http_requests",
    "HTTP requests answered, by route (the URL pattern), method and status.",
    ["route", "method", "status"],
)
REQUEST_SECONDS = Histogram(
    PREFIX + "http_request_duration_seconds",
    "Time to answer an HTTP request, by route and method.",
    ["route", "method"],
)

# --- Tasks (Celery's workers: core.task_metrics) -------------------------------------------

TASKS = Counter(
    PREFIX + "tasks",
    "Tasks run, by name and outcome (succeeded, failed, retried).",
    ["task", "outcome"],
)
TASK_SECONDS = Histogram(
    PREFIX + "task_duration_seconds",
    "Time a task ran, by name.",
    ["task"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300),
)

# --- Messaging -----------------------------------------------------------------------------

MESSAGES_SENT = Counter(PREFIX + "messages_sent", "Messages sent (committed).")
NOTIFICATION_LAG = Histogram(
    PREFIX + "commit_to_notification_seconds",
    "From a message's commit to its notification's commit (the outbox, broker and worker).",
    buckets=LAG_BUCKETS,
)
PUSH_LAG = Histogram(
    PREFIX + "commit_to_push_seconds",
    "From a message's commit to its event written to the receiver's open stream.",
    buckets=LAG_BUCKETS,
)

# --- Live streams (the event server: core.sse) ---------------------------------------------

STREAMS_OPEN = Gauge(
    PREFIX + "streams_open",
    "Event streams open, per process.",
    multiprocess_mode="liveall",
)
EVENTS_PUSHED = Counter(PREFIX + "events_pushed", "Events written to open streams.", ["event"])
STREAM_REPLAYS = Counter(
    PREFIX + "stream_replays", "Streams that replayed missed events from the log."
)
STREAM_RESETS = Counter(
    PREFIX + "stream_resets", "Streams sent stream.reset: the log had lost events they missed."
)

# --- The outbox (the relay: core.outbox) ----------------------------------------------------

OUTBOX_PUBLISHED = Counter(
    PREFIX + "outbox_published", "Outbox rows published by the relay, by topic.", ["topic"]
)
OUTBOX_FAILURES = Counter(
    PREFIX + "outbox_failures", "Batches of outbox rows the relay failed to publish.", ["topic"]
)

# --- Maintenance (jobs.runs) ----------------------------------------------------------------

JOB_RUNS = Counter(
    PREFIX + "job_runs", "Maintenance job runs, by job and status.", ["job", "status"]
)
JOB_AFFECTED = Counter(
    PREFIX + "job_affected",
    "What job runs counted (rows archived, files deleted, bytes freed...), by job and count.",
    ["job", "count"],
)
# --- Caches and Redis ------------------------------------------------------------------------

CACHE_LOOKUPS = Counter(
    PREFIX + "cache_lookups",
    "Cache lookups by cache (cache_result's function, or the inbox) and result (hit, miss).",
    ["cache", "result"],
)
BREAKER_TRIPS = Counter(
    PREFIX + "redis_breaker_trips",
    "Times a process stopped trying a Redis server after a failure, by server.",
    ["redis"],
)
BREAKER_OPEN_UNTIL = Gauge(
    PREFIX + "redis_breaker_open_until_timestamp_seconds",
    "Until when (Unix time) a process skips a Redis server; in the past when it is closed.",
    ["redis"],
    multiprocess_mode="max",
)


def observe_lag(histogram: Histogram, committed_at: datetime | None) -> None:
    """Observe the seconds since `committed_at` (an aware datetime)."""
    if committed_at is not None:
        histogram.observe(max(0.0, time.time() - committed_at.timestamp()))


def job_finished(job: str, status: str, counts: dict | None) -> None:
    JOB_RUNS.labels(job, status).inc()
    for name, value in _numbers(counts or {}):
        JOB_AFFECTED.labels(job, name).inc(value)


def _numbers(counts: dict, prefix: str = ""):
    """The counts of a run as (name, number) pairs: nested counts (archived per table) are
    named by their path."""
    for name, value in counts.items():
        if isinstance(value, dict):
            yield from _numbers(value, f"{prefix}{name}.")
        elif isinstance(value, int | float) and not isinstance(value, bool) and value > 0:
            yield f"{prefix}{name}", value
