"""Every maintenance run is recorded, logged, and never overlaps another run of its job."""

import logging
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from django.conf import settings
from django.utils import timezone
from django_redis import get_redis_connection

from maintenance.models import MaintenanceRun

logger = logging.getLogger("maintenance.runs")


class RunSkipped(Exception):
    """Another run of the same job holds the lock."""


@contextmanager
def recorded_run(job: str, arguments: dict) -> Iterator[MaintenanceRun]:
    """Record a MaintenanceRun around the block, under a Redis lock named after the job.

    The block sets `run.counts`. A second run while the lock is held is recorded as skipped
    and raises RunSkipped. The lock expires on its own (a dead worker cannot hold it for
    ever); if Redis cannot be reached the run goes ahead unlocked, since every job is safe
    to run concurrently, only wasteful.
    """
    lock = _lock(job)
    run = MaintenanceRun.objects.create(task=job, arguments=arguments)
    if lock is not None and not _acquire(lock):
        _finish(run, MaintenanceRun.Status.SKIPPED)
        raise RunSkipped(f"{job} is already running")
    try:
        yield run
    except Exception:
        _finish(run, MaintenanceRun.Status.FAILED, error=traceback.format_exc())
        raise
    else:
        _finish(run, MaintenanceRun.Status.SUCCEEDED)
    finally:
        if lock is not None:
            _release(lock)


def _lock(job: str):
    client = get_redis_connection("default")
    return client.lock(f"maintenance:lock:{job}", timeout=settings.MAINTENANCE_TASK_TIME_LIMIT + 60)


def _acquire(lock) -> bool:
    try:
        return lock.acquire(blocking=False)
    except redis.RedisError as error:
        logger.warning("could not take the lock %s (%s); running unlocked", lock.name, error)
        lock.local.token = None
        return True


def _release(lock) -> None:
    if lock.local.token is None:
        return
    try:
        lock.release()
    except redis.RedisError as error:  # expired, or Redis gone: the timeout frees it
        logger.warning("could not release the lock %s: %s", lock.name, error)


def _finish(run: MaintenanceRun, status: str, *, error: str = "") -> None:
    run.status, run.error, run.finished_at = status, error, timezone.now()
    run.save(update_fields=["status", "error", "finished_at", "counts"])
    seconds = (run.finished_at - run.started_at).total_seconds()
    logger.info(
        "maintenance run %s id=%s status=%s seconds=%.2f counts=%s arguments=%s",
        run.task,
        run.pk,
        status,
        seconds,
        run.counts,
        run.arguments,
    )
