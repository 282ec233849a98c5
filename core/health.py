"""GET /healthz: is each backing service answering, and are the maintenance checks running?
200 when all are, 503 otherwise, naming what is wrong. `?only=database,cache` checks just
those (a container's own liveness should not depend on beat). HEALTH_REPORTS add what is
reported but does not make the platform unhealthy (read replicas: reads fall back to the
primary).

The checks are the HEALTH_CHECKS setting: a name and the dotted path of a function that
raises, or returns "ok" (or None) or what is wrong; the apps add their own there."""

import logging

from celery import current_app as app
from django.conf import settings
from django.db import connection
from django.http import JsonResponse
from django.utils.module_loading import import_string
from django.views.decorators.cache import never_cache
from django_redis import get_redis_connection

from core import redis_health

logger = logging.getLogger(__name__)


def database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def cache() -> None:
    get_redis_connection("default").ping()  # at once while marked unhealthy


def broker() -> None:
    breaker = redis_health.breaker_of_url(app.conf.broker_url)
    breaker.check()  # a recent failure: down, without waiting again
    try:
        with app.connection_for_write() as conn:
            conn.ensure_connection(max_retries=1, timeout=1)
            conn.default_channel.client.ping()  # a hung broker accepts connections
    except Exception as error:
        breaker.trip(error)
        raise


def _checks() -> dict:
    return {name: import_string(path) for name, path in settings.HEALTH_CHECKS.items()}


@never_cache
def healthz(request):
    checks = _checks()
    names = [n for n in request.GET.get("only", "").split(",") if n] or list(checks)
    if unknown := set(names) - set(checks):
        return JsonResponse(
            {"error": f"unknown checks {sorted(unknown)}; known: {sorted(checks)}"}, status=400
        )
    status = {}
    for name in names:
        check = checks[name]
        try:
            status[name] = check() or "ok"
        except Exception as exc:
            logger.warning("health check %s failed: %s", name, exc)
            status[name] = "down"
    healthy = all(value == "ok" for value in status.values())
    # Reported, never failing the check: the platform serves without them.
    for name, path in settings.HEALTH_REPORTS.items():
        if report := import_string(path)():
            status[name] = report
    return JsonResponse(status, status=200 if healthy else 503)
