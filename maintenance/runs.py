"""Every maintenance run is recorded, logged, and never overlaps another run of its job."""

import logging
import threading
import traceback
from collections.abc import Iterator
from contextlib import contextmanager

import redis
from django.conf import settings
from django.utils import timezone
from django_redis import get_redis_connection

from config.logs import current_run_id
from maintenance import alerts
from maintenance.models import MaintenanceRun

logger = logging.getLogger("maintenance.runs")


class RunSkipped(Exception):
    """Another run of the same job holds the lock."""


@contextmanager
def recorded_run(job: str, arguments: dict) -> Iterator[MaintenanceRun]:
    """Record a MaintenanceRun around the block, under a Redis lock named after the job.

    The block sets `run.counts`. A second run while the lock is held is recorded as skipped
    and raises RunSkipped. The lock lives MAINTENANCE_LOCK_TTL seconds and a heartbeat
    thread renews it while the run is alive, so a killed worker frees it within that time
    and the redelivered task can run. If Redis cannot be reached the run goes ahead
    unlocked: every job is safe to run concurrently, only wasteful.
    """
    lock = _Lock(job)
    run = MaintenanceRun.objects.create(task=job, arguments=arguments)
    if not lock.acquire():
        _finish(run, MaintenanceRun.Status.SKIPPED)
        raise RunSkipped(f"{job} is already running")
    if lock.held:
        _close_dead_runs(job, current=run)
    logged_run = current_run_id.set(run.pk)
    try:
        yield run
    except Exception:
        _finish(run, MaintenanceRun.Status.FAILED, error=traceback.format_exc())
        _alert(run)
        raise
    else:
        _finish(run, MaintenanceRun.Status.SUCCEEDED)
    finally:
        current_run_id.reset(logged_run)
        lock.release()


def lock_name(job: str) -> str:
    return f"maintenance:lock:{job}"


class _Lock:
    def __init__(self, job: str):
        ttl = settings.MAINTENANCE_LOCK_TTL
        self.lock = get_redis_connection("default").lock(lock_name(job), timeout=ttl)
        self.held = False
        self.stop = threading.Event()
        self.heartbeat = threading.Thread(target=self._renew, args=(ttl / 3,), daemon=True)

    def acquire(self) -> bool:
        try:
            self.held = self.lock.acquire(blocking=False)
        except redis.RedisError as error:
            logger.warning(
                "could not take the lock %s (%s); running unlocked", self.lock.name, error
            )
            return True
        if self.held:
            self.heartbeat.start()
        return self.held

    def _renew(self, every: float) -> None:
        while not self.stop.wait(every):
            try:
                self.lock.reacquire()
            except redis.RedisError as error:  # lost it, or Redis is gone: nothing to renew
                logger.warning("could not renew the lock %s: %s", self.lock.name, error)

    def release(self) -> None:
        if not self.held:
            return
        self.stop.set()
        self.heartbeat.join()
        try:
            self.lock.release()
        except redis.RedisError as error:  # expired, or Redis gone: the TTL frees it
            logger.warning("could not release the lock %s: %s", self.lock.name, error)


def _close_dead_runs(job: str, *, current: MaintenanceRun) -> None:
    """Runs of this job still marked running lost their worker: we hold the job's lock."""
    MaintenanceRun.objects.filter(task=job, status=MaintenanceRun.Status.RUNNING).exclude(
        pk=current.pk
    ).update(
        status=MaintenanceRun.Status.FAILED,
        finished_at=timezone.now(),
        error="The worker running this job was lost; a later run took over.",
    )


def _alert(run: MaintenanceRun) -> None:
    """Tell ops now; the periodic checks retry whatever this could not record or send."""
    try:
        if alert := alerts.alert_failed_run(run):
            alerts.deliver(alert)
    except Exception:
        logger.exception("could not alert on the failure of run %s", run.pk)


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
        extra={"run_id": run.pk, "duration": seconds},
    )
