"""GET /healthz: is each backing service answering, and are the maintenance checks running?
200 when all are, 503 otherwise, naming what is wrong. `?only=database,cache` checks just
those (a container's own liveness should not depend on beat)."""

import logging

from django.db import connection
from django.http import JsonResponse
from django.views.decorators.cache import never_cache
from django_redis import get_redis_connection

from celery_app import app
from maintenance import monitor

logger = logging.getLogger(__name__)


def _database() -> None:
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")


def _cache() -> None:
    get_redis_connection("default").ping()


def _broker() -> None:
    with app.connection_for_write() as conn:
        conn.ensure_connection(max_retries=1, timeout=1)


def _maintenance() -> str:
    # The checks that alert ops cannot report their own absence: an uptime probe on this
    # entry does ("overdue": beat or the maintenance queue is stuck; "unscheduled").
    return monitor.checks_status()


CHECKS = {"database": _database, "cache": _cache, "broker": _broker, "maintenance": _maintenance}


@never_cache
def healthz(request):
    names = [n for n in request.GET.get("only", "").split(",") if n] or list(CHECKS)
    if unknown := set(names) - set(CHECKS):
        return JsonResponse(
            {"error": f"unknown checks {sorted(unknown)}; known: {sorted(CHECKS)}"}, status=400
        )
    status = {}
    for name in names:
        check = CHECKS[name]
        try:
            status[name] = check() or "ok"
        except Exception as exc:
            logger.warning("health check %s failed: %s", name, exc)
            status[name] = "down"
    healthy = all(value == "ok" for value in status.values())
    return JsonResponse(status, status=200 if healthy else 503)
