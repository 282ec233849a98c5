"""The base class of every task: publishing after commit that never breaks the request."""

import logging
from functools import partial

from celery.contrib.django.task import DjangoTask
from django.db import transaction

logger = logging.getLogger(__name__)


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
        """Publish now; on failure log, maybe run inline, and return False."""
        try:
            self.apply_async(args, kwargs)
            return True
        except Exception:
            logger.exception("could not publish %s%r; the broker may be down", self.name, args)
        if self.run_inline_if_unpublished:
            try:
                self.run(*args, **kwargs)
            except Exception:
                logger.exception("inline fallback of %s%r failed", self.name, args)
        return False
