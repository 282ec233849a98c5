"""What every task shares: the base class and one retry policy."""

from collections.abc import Callable

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.db import OperationalError

# A database that restarts or fails over raises OperationalError for a few seconds: every
# task retries it with backoff (tasks are idempotent: they take ids and refetch).
RETRY_ON_DB_ERRORS = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": 1,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 8,
}


def task(**options) -> Callable:
    """`shared_task` with the platform's retry policy."""
    return shared_task(**RETRY_ON_DB_ERRORS, **options)


def legacy_name(current, old_name: str) -> None:
    """Also run messages published under `old_name`: the task's module path, its name before
    tasks had stable ones, still in the queues while the previous release drains. To be
    removed once no worker of that release runs."""
    shared_task(name=old_name, **RETRY_ON_DB_ERRORS)(current.run)


class OutboxTask(DjangoTask):
    """A Django task that is never published from a transaction's commit hook.

    ``delay_on_commit`` (Celery's `on_commit(delay)`) loses the task when the broker or the
    process fails between the commit and the publish; every effect of a write goes through
    the outbox instead (core.outbox: `outbox.record(task.name, kwargs)`, with the task's
    topic declared by `outbox.task_topic`).
    """

    def delay_on_commit(self, *args, **kwargs):
        raise TypeError(f"{self.name}: record it in the outbox (core.outbox), see OutboxTask")
