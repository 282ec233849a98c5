"""Database connections in Celery workers: kept across tasks, as Django keeps them across
requests.

Celery's Django fixup closes every connection before and after each task (celery#9824) unless
``CELERY_DB_REUSE_MAX`` is set: one new PostgreSQL backend per task, which profiled at ~80% of
a notification task's time. With the setting the fixup only rotates connections every
twice that many tasks; these receivers give a task the lifecycle of a request instead:
``CONN_MAX_AGE`` and ``CONN_HEALTH_CHECKS`` apply between tasks, and a task that fails (a
time limit may interrupt a query and leave the connection in an unknown state) drops it.
"""

from celery.signals import task_failure, task_postrun, task_prerun
from django.db import close_old_connections, connections


@task_prerun.connect(dispatch_uid="core.worker_db.prerun")
@task_postrun.connect(dispatch_uid="core.worker_db.postrun")
def recycle_old_connections(sender=None, **kwargs):
    if not getattr(sender.request, "is_eager", False):
        close_old_connections()


@task_failure.connect(dispatch_uid="core.worker_db.failure")
def drop_connections_after_failure(sender=None, **kwargs):
    if not getattr(sender.request, "is_eager", False):
        connections.close_all()
