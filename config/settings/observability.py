"""What ops watch the platform with: Prometheus metrics (core/metrics.py), OpenTelemetry
traces (core/telemetry.py) and error reports to Sentry. All off unless set."""

from environs import validate

from config.settings.env import env, non_negative
from core import metrics_server

# The port on which each service serves its metrics (gunicorn's master for the web and
# event servers, Celery's main process, the relay): one port per service, 0 for none. The
# front never publishes it; bind it to an address only the scraper reaches.
METRICS_PORT = env.int("METRICS_PORT", 0, validate=validate.Range(min=0, max=65535))
METRICS_ADDRESS = env.str("METRICS_ADDRESS", "127.0.0.1")
# Where the processes of a service keep their samples (prometheus-client's multiprocess
# mode): METRICS_DIR/<METRICS_PORT>, emptied of dead processes' files at each start.
METRICS_DIR = env.str("METRICS_DIR", metrics_server.DEFAULT_DIR)
# Before any metric exists: prometheus_client reads the directory once, at its import.
metrics_server.activate(METRICS_PORT, METRICS_DIR)

# Traces go to this OTLP/HTTP collector (OpenTelemetry's own variable, read here so that
# the platform knows whether to instrument; the SDK reads its other OTEL_* variables).
OTEL_EXPORTER_OTLP_ENDPOINT = env.str("OTEL_EXPORTER_OTLP_ENDPOINT", "")

# Errors of requests and tasks to Sentry (sentry-sdk), with no personal data (no user, no
# IP address, no cookies, no request bodies) unless SENTRY_SEND_DEFAULT_PII is set.
SENTRY_DSN = env.str("SENTRY_DSN", "")
SENTRY_ENVIRONMENT = env.str("SENTRY_ENVIRONMENT", "production")
SENTRY_SEND_DEFAULT_PII = env.bool("SENTRY_SEND_DEFAULT_PII", False)
SENTRY_TRACES_SAMPLE_RATE = env.float(
    "SENTRY_TRACES_SAMPLE_RATE", 0.0, validate=[non_negative, validate.Range(max=1)]
)
