"""Traces (OpenTelemetry) and error reports (Sentry), each off until its variable is set.

With OTEL_EXPORTER_OTLP_ENDPOINT set, one send is one trace across the processes:

    request (web) ─ outbox.publish (relay) ─ celery apply_async ─ celery run (worker) ─ ...
                                          └ events.publish ─ events.push (event server)

The request's context is written with its outbox rows (`current()`, a W3C traceparent),
the relay publishes each batch under the context of its first row (the others as links),
Celery's instrumentation carries it in the task's headers, and an event carries it in its
announcement to the event servers, which push under it. The log lines carry `trace_id`.

Instrumented with OpenTelemetry's own packages (Django, Celery, psycopg, Redis); the
exporter is OTLP over HTTP, batched, so a collector that is down costs a dropped batch, not
a request.
"""

import contextlib
import logging
import os
from collections.abc import Iterator

from django.conf import settings

logger = logging.getLogger(__name__)

_enabled = False
_tracer = None


def enabled() -> bool:
    return _enabled


def configure(service: str, *, exporter=None) -> bool:
    """Trace this process as `service` (web, events, worker, relay, beat), exporting to the
    OTLP endpoint (or to `exporter`, a SpanExporter, synchronously: for a profile). Idempotent;
    False when tracing is off."""
    global _enabled, _tracer
    if _enabled:
        return True
    if exporter is None and not settings.OTEL_EXPORTER_OTLP_ENDPOINT:
        return False
    from opentelemetry import trace
    from opentelemetry.instrumentation.celery import CeleryInstrumentor
    from opentelemetry.instrumentation.django import DjangoInstrumentor
    from opentelemetry.instrumentation.psycopg import PsycopgInstrumentor
    from opentelemetry.instrumentation.redis import RedisInstrumentor
    from opentelemetry.sdk.resources import Resource
    from opentelemetry.sdk.trace import TracerProvider
    from opentelemetry.sdk.trace.export import BatchSpanProcessor, SimpleSpanProcessor

    name = os.environ.get("OTEL_SERVICE_NAME") or f"platform-{service}"
    provider = TracerProvider(resource=Resource.create({"service.name": name}))
    if exporter is None:
        from opentelemetry.exporter.otlp.proto.http.trace_exporter import OTLPSpanExporter

        provider.add_span_processor(BatchSpanProcessor(OTLPSpanExporter()))
    else:
        provider.add_span_processor(SimpleSpanProcessor(exporter))
    trace.set_tracer_provider(provider)
    # OpenTelemetry's own variable: "psycopg,redis" leaves the database's and Redis's calls
    # out of the traces (each span costs CPU: docs/benchmarks.md, "Metrics and traces").
    disabled = {
        name.strip()
        for name in os.environ.get("OTEL_PYTHON_DISABLED_INSTRUMENTATIONS", "").split(",")
    }
    instrumentors = {
        "django": lambda: DjangoInstrumentor().instrument(),
        "celery": lambda: CeleryInstrumentor().instrument(),
        "psycopg": lambda: PsycopgInstrumentor().instrument(enable_commenter=False),
        "redis": lambda: RedisInstrumentor().instrument(),
    }
    for instrumented, instrument in instrumentors.items():
        if instrumented not in disabled:
            instrument()
    _tracer = trace.get_tracer("platform")
    _enabled = True
    logger.info("traces of %s exported", name)
    return True


def current() -> str:
    """The current span's context as a W3C traceparent ("" when there is none)."""
    if not _enabled:
        return ""
    from opentelemetry import propagate

    carrier: dict[str, str] = {}
    propagate.inject(carrier)
    return carrier.get("traceparent", "")


def trace_id() -> str | None:
    """The current trace's id (32 hex digits), for the log lines; None outside a trace."""
    if not _enabled:
        return None
    from opentelemetry import trace

    context = trace.get_current_span().get_span_context()
    return f"{context.trace_id:032x}" if context.is_valid else None


def span(name: str, parents: list[str] = (), **attributes) -> contextlib.AbstractContextManager:
    """A span `name`, child of the first traceparent of `parents` (the others linked), or
    of the current span; nothing when tracing is off (at no cost: it wraps every publish)."""
    if not _enabled:
        return contextlib.nullcontext()
    return _span(name, parents, attributes)


@contextlib.contextmanager
def _span(name: str, parents: list[str], attributes: dict) -> Iterator[None]:
    from opentelemetry import propagate, trace

    contexts = [propagate.extract({"traceparent": p}) for p in parents if p]
    parent = contexts[0] if contexts else None
    links = [
        trace.Link(trace.get_current_span(context).get_span_context()) for context in contexts[1:]
    ]
    with _tracer.start_as_current_span(
        name, context=parent, links=links, attributes=attributes or None
    ):
        yield


def configure_sentry() -> bool:
    """Report errors of requests and tasks to SENTRY_DSN, with no personal data unless
    SENTRY_SEND_DEFAULT_PII. False when off."""
    if not settings.SENTRY_DSN:
        return False
    import sentry_sdk
    from sentry_sdk.integrations.celery import CeleryIntegration
    from sentry_sdk.integrations.django import DjangoIntegration

    sentry_sdk.init(
        dsn=settings.SENTRY_DSN,
        environment=settings.SENTRY_ENVIRONMENT,
        send_default_pii=settings.SENTRY_SEND_DEFAULT_PII,
        # A request's body is a message's text: personal data, kept out unless allowed.
        max_request_body_size="medium" if settings.SENTRY_SEND_DEFAULT_PII else "never",
        traces_sample_rate=settings.SENTRY_TRACES_SAMPLE_RATE,
        integrations=[DjangoIntegration(), CeleryIntegration()],
    )
    return True


def start(service: str) -> None:
    """Traces and error reports for this process, where their variables are set."""
    configure(service)
    configure_sentry()


def _connect_celery() -> None:
    from celery import signals

    # Sentry in the worker's main process, before its pool is made: Sentry's integration
    # wraps the tasks' tracers, which the pool processes build before worker_process_init.
    signals.celeryd_init.connect(
        lambda **kwargs: configure_sentry(), weak=False, dispatch_uid="core.telemetry.sentry"
    )
    # Traces in each pool process (after the fork: the exporter's thread does not survive
    # one), and in beat.
    signals.worker_process_init.connect(
        lambda **kwargs: configure("worker"), weak=False, dispatch_uid="core.telemetry.worker"
    )
    signals.beat_init.connect(
        lambda **kwargs: start("beat"), weak=False, dispatch_uid="core.telemetry.beat"
    )


_connect_celery()
