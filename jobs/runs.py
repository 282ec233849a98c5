"""Every job run is recorded, logged, and never overlaps another run of its job."""

import inspect
import json
import logging
import traceback
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import wraps
from typing import TypeVar

import redis
from django.conf import settings
from django.core.cache import caches
from django.utils import timezone
from django_redis import get_redis_connection

from core import metrics
from core.locks import Renewal
from core.logs import current_run_id
from core.tasks import task
from jobs import alerts
from jobs.models import JobRun

T = TypeVar("T")

# The name ops filter the run summaries on.
logger = logging.getLogger("jobs.runs")


class RunSkipped(Exception):
    """Another run of the same job holds the lock."""


@contextmanager
def recorded_run(job: str, arguments: dict) -> Iterator[JobRun]:
    """Record a JobRun around the block, under a Redis lock named after the job.

    The block sets `run.counts`. A second run while the lock is held is recorded as skipped
    and raises RunSkipped. The lock lives JOBS_LOCK_TTL seconds and a heartbeat
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

    The one way every job runs, from a task (recorded_task) or a command
    (jobs.commands.JobCommand). Raises RunSkipped when another run holds the job's lock.
    """
    with recorded_run(job, arguments) as run:
        result = work(run)
        run.counts = counts_of(result)
    return result


def counts_of(result) -> dict:
    """A job's result as the run records it: its `as_counts()`, or the dict it is."""
    return result.as_counts() if hasattr(result, "as_counts") else dict(result)


def lock_name(job: str) -> str:
    """The job's lock in Redis, under the cache's KEY_PREFIX like every key of the platform."""
    return caches["default"].make_key(f"jobs:lock:{job}")


class _Lock:
    """The job's Redis lock, renewed (core.locks.Renewal) while the run is alive."""

    def __init__(self, job: str):
        self.ttl = settings.JOBS_LOCK_TTL
        self.lock = get_redis_connection("default").lock(lock_name(job), timeout=self.ttl)
        self.held = False
        self.renewal: Renewal | None = None

    def acquire(self) -> bool:
        try:
            self.held = self.lock.acquire(blocking=False)
        except redis.RedisError as error:
            logger.warning(
                "could not take the lock %s (%s); running unlocked", self.lock.name, error
            )
            return True
        if self.held:
            self.renewal = Renewal(
                self.lock.reacquire, every=self.ttl / 3, name=self.lock.name, give_up=False
            )
        return self.held

    def release(self) -> None:
        if not self.held:
            return
        self.renewal.stop(wait=True)
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
    try:
        if alert := alerts.alert_failed_run(run):
            alerts.deliver(alert)
    except Exception:
        logger.exception("could not alert on the failure of run %s", run.pk)


def _finish(run: JobRun, status: str, *, error: str = "") -> None:
    run.status, run.error, run.finished_at = status, error, timezone.now()
    run.save(update_fields=["status", "error", "finished_at", "counts"])
    metrics.job_finished(run.task, status, run.counts)
    seconds = (run.finished_at - run.started_at).total_seconds()
    logger.info(
        "job run %s id=%s status=%s seconds=%.2f counts=%s arguments=%s",
        run.task,
        run.pk,
        status,
        seconds,
        run.counts,
        run.arguments,
        extra={"run_id": run.pk, "duration": seconds},
    )


def recorded_task(job: str, **options) -> Callable:
    """A task whose every run is recorded as a run of `job` (run_recorded).

    The call's arguments are recorded (defaults applied); the function's result is what the
    run counts, and what the task returns. If the function takes `run`, it gets the run
    (to link what it writes to it). A run skipped because another run holds the job's lock
    returns None.
    """

    def decorator(func: Callable) -> Callable:
        signature = inspect.signature(func)
        wants_run = "run" in signature.parameters

        @wraps(func)
        def run_job(*args, **kwargs):
            bound = signature.bind_partial(*args, **kwargs)
            bound.apply_defaults()
            arguments = {k: v for k, v in bound.arguments.items() if k != "run"}

            def work(run):
                return func(*args, **kwargs, **({"run": run} if wants_run else {}))

            try:
                return counts_of(run_recorded(job, arguments, work))
            except RunSkipped:
                return None

        return task(**options)(run_job)

    return decorator
