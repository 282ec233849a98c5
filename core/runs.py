"""Every job run is recorded, logged, and never overlaps another run of its job."""

import json
import logging
import threading
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import TypeVar

import redis
from django.conf import settings
from django.utils import timezone
from django_redis import get_redis_connection

from core.logs import current_run_id
from core.models import JobRun
from core.signals import run_failed

T = TypeVar("T")

# The name ops filter the run summaries on (runs were first recorded by the maintenance app).
logger = logging.getLogger("maintenance.runs")


class RunSkipped(Exception):
    """Another run of the same job holds the lock."""


@contextmanager
def recorded_run(job: str, arguments: dict) -> Iterator[JobRun]:
    """Record a JobRun around the block, under a Redis lock named after the job.

    The block sets `run.counts`. A second run while the lock is held is recorded as skipped
    and raises RunSkipped. The lock lives MAINTENANCE_LOCK_TTL seconds and a heartbeat
    thread renews it while the run is alive, so a killed worker frees it within that time
    and the redelivered task can run. If Redis cannot be reached the run goes ahead
    unlocked: every job is safe to run concurrently, only wasteful.
    """
    try:  # the run records them: plain JSON only (PostgreSQL refuses NaN, for one)
        json.dumps(arguments, allow_nan=False)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{job}: its arguments must be plain JSON values ({error})") from None
    lock = _Lock(job)
    run = JobRun.objects.create(task=job, arguments=arguments)
    if not lock.acquire():
        _finish(run, JobRun.Status.SKIPPED)
        raise RunSkipped(f"{job} is already running")
    if lock.held:
        _close_dead_runs(job, current=run)
    logged_run = current_run_id.set(run.pk)
    try:
        yield run
    except Exception:
        _finish(run, JobRun.Status.FAILED, error=traceback.format_exc())
        _alert(run)
        raise
    else:
        _finish(run, JobRun.Status.SUCCEEDED)
    finally:
        current_run_id.reset(logged_run)
        lock.release()


def run_recorded(job: str, arguments: dict, work: Callable[[JobRun], T]) -> T:
    """Run `work(run)` as a recorded run of `job` and record what its result counts.

    The one way every job runs, from a task (core.tasks.recorded_task) or a command
    (core.commands.JobCommand). Raises RunSkipped when another run holds the job's lock.
    """
    with recorded_run(job, arguments) as run:
        result = work(run)
        run.counts = counts_of(result)
    return result


def counts_of(result) -> dict:
    """A job's result as the run records it: its `as_counts()`, or the dict it is."""
    return result.as_counts() if hasattr(result, "as_counts") else dict(result)


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


def _close_dead_runs(job: str, *, current: JobRun) -> None:
    """Runs of this job still marked running lost their worker: we hold the job's lock."""
    JobRun.objects.filter(task=job, status=JobRun.Status.RUNNING).exclude(pk=current.pk).update(
        status=JobRun.Status.FAILED,
        finished_at=timezone.now(),
        error="The worker running this job was lost; a later run took over.",
    )


def _alert(run: JobRun) -> None:
    """Tell ops now; the periodic checks retry whatever this could not record or send."""
    for _, result in run_failed.send_robust(sender=JobRun, run=run):
        if isinstance(result, Exception):
            logger.error("could not alert on the failure of run %s", run.pk, exc_info=result)


def _finish(run: JobRun, status: str, *, error: str = "") -> None:
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
