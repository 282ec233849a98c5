"""The workers' metrics (core.metrics): each task by name and outcome with its duration, and
at each scrape the depth of every queue and the age of its oldest waiting task.

A task's publish time travels in its headers (`published_at`, set by every process that
publishes: the relay, beat, a request), so the age of the oldest waiting task is read off
the broker without a clock in the queue.
"""

import json
import logging
import time

from celery import signals
from django.conf import settings

from core import metrics_server

# core.metrics (prometheus_client) is imported where it is used: this module is imported
# with the Celery app, before the settings choose the directory of samples.

logger = logging.getLogger(__name__)

PUBLISHED_AT = "published_at"
_OUTCOMES = {"SUCCESS": "succeeded", "FAILURE": "failed", "RETRY": "retried"}
_started: dict[str, float] = {}


@signals.before_task_publish.connect(dispatch_uid="core.task_metrics.stamp")
def stamp(headers=None, **kwargs) -> None:
    if headers is not None:
        headers.setdefault(PUBLISHED_AT, time.time())


@signals.task_prerun.connect(dispatch_uid="core.task_metrics.prerun")
def started(task_id=None, task=None, **kwargs) -> None:
    if not getattr(task.request, "is_eager", False):
        _started[task_id] = time.perf_counter()


@signals.task_postrun.connect(dispatch_uid="core.task_metrics.postrun")
def finished(task_id=None, task=None, state=None, **kwargs) -> None:
    began = _started.pop(task_id, None)
    if began is None:
        return
    from core import metrics

    metrics.TASKS.labels(task.name, _OUTCOMES.get(state, "failed")).inc()
    metrics.TASK_SECONDS.labels(task.name).observe(time.perf_counter() - began)


@signals.worker_init.connect(dispatch_uid="core.task_metrics.init")
def prune(**kwargs) -> None:
    metrics_server.prune()


#: What else the worker's metrics show, read at each scrape (the apps add theirs: jobs).
collectors: list = []


@signals.worker_ready.connect(dispatch_uid="core.task_metrics.serve")
def serve(sender=None, **kwargs) -> None:
    """Celery's main process serves its pool's metrics, the queues' and the apps'."""
    metrics_server.serve(
        settings.METRICS_PORT, settings.METRICS_ADDRESS, [QueueCollector(sender.app), *collectors]
    )


@signals.worker_process_shutdown.connect(dispatch_uid="core.task_metrics.shutdown")
def child_gone(pid=None, **kwargs) -> None:
    metrics_server.process_dead(pid)


class QueueCollector:
    """At each scrape: every queue's length and the age of its oldest task (Redis lists,
    kombu's: published to the left, taken from the right)."""

    def __init__(self, app):
        self.app = app

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        from core import metrics

        length = GaugeMetricFamily(
            metrics.PREFIX + "queue_length", "Tasks waiting in a queue.", labels=["queue"]
        )
        age = GaugeMetricFamily(
            metrics.PREFIX + "queue_oldest_age_seconds",
            "Age of the oldest task waiting in a queue (0 when empty).",
            labels=["queue"],
        )
        queues = [queue.name for queue in self.app.conf.task_queues or ()]
        try:
            with self.app.connection_for_read() as connection:
                client = connection.default_channel.client
                pipe = client.pipeline(transaction=False)
                for name in queues:
                    pipe.llen(name)
                    pipe.lindex(name, -1)
                answers = pipe.execute()
        except Exception as error:  # a scrape must answer: the queues are then unknown
            logger.warning("queue metrics unavailable: %s", error)
            return
        now = time.time()
        for index, name in enumerate(queues):
            waiting, oldest = answers[2 * index], answers[2 * index + 1]
            length.add_metric([name], waiting)
            age.add_metric([name], max(0.0, now - _published_at(oldest, now)))
        yield length
        yield age


def _published_at(message: bytes | None, now: float) -> float:
    if not message:
        return now
    try:
        return float(json.loads(message)["headers"][PUBLISHED_AT])
    except (ValueError, KeyError, TypeError):
        return now  # published before the header existed: unknown, not old
