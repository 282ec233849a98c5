"""What every task shares: the publish-safe base class and one retry policy."""

import logging
from collections.abc import Callable
from functools import partial

from celery import shared_task
from celery.contrib.django.task import DjangoTask
from django.db import OperationalError, transaction

from core import redis_health

logger = logging.getLogger(__name__)

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


class PublishSafeTask(DjangoTask):
    """A Django task whose ``delay_on_commit`` survives a dead broker.

    Celery's own ``delay_on_commit`` lets a publish error escape from the commit, turning a
    saved message into a 500. Here the error is logged and the caller carries on: every
    task published this way has a reconcile job (or an inline fallback) that catches up.
    """

    #: When publishing fails, run the task in this process instead (for short tasks whose
    #: input would otherwise be lost, such as the old content of an edited message).
    run_inline_if_unpublished = False

    def delay_on_commit(self, *args, **kwargs) -> None:
        transaction.on_commit(partial(self.publish_or_fallback, args, kwargs))

    def publish_or_fallback(self, args: tuple, kwargs: dict) -> bool:
        """Publish now; on failure log, maybe run inline, and return False. While the broker
        is marked unhealthy (a recent failure: core.redis_health) it is not tried."""
        broker = redis_health.breaker_of_url(self.app.conf.broker_url)
        if broker.is_open():
            logger.warning("broker marked unhealthy: %s%r not published", self.name, args)
        else:
            try:
                self.apply_async(args, kwargs)
                return True
            except Exception as error:
                broker.trip(error)
                logger.exception("could not publish %s%r; the broker may be down", self.name, args)
        if self.run_inline_if_unpublished:
            try:
                self.run(*args, **kwargs)
            except Exception:
                logger.exception("inline fallback of %s%r failed", self.name, args)
        return False
