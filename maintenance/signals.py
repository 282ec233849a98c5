"""File receivers for every model with a FileField, alerts on failed runs, and beat's
start-up report of its schedules."""

import logging

from django.db.models.signals import post_save, pre_delete, pre_save
from django.dispatch import receiver

from core import stored
from core.signals import run_failed
from maintenance import alerts, files, tasks
from maintenance.jobs import scheduled_jobs

logger = logging.getLogger("maintenance.schedules")


@receiver(run_failed, dispatch_uid="maintenance.alert_failed_run")
def alert_failed_run(sender, run, **kwargs):
    if alert := alerts.alert_failed_run(run):
        alerts.deliver(alert)


def file_pre_save(sender, instance, raw=False, **kwargs):
    # Not `_state.adding`: a new instance saved with an existing primary key replaces a row.
    if raw or instance.pk is None:
        return
    instance._replaced_files = files.replaced(instance)


def file_post_save(sender, instance, raw=False, **kwargs):
    if replaced := instance.__dict__.pop("_replaced_files", None):
        tasks.delete_files_on_commit(replaced)


def file_pre_delete(sender, instance, origin=None, **kwargs):
    # Before the delete: after it, a field the instance was loaded without cannot be read.
    if names := files.names_before_delete(instance, origin):
        tasks.delete_files_on_commit(names)


def connect_file_receivers() -> None:
    """Connect the receivers to each model whose files follow its rows, and only to those.

    Per-model connections keep the others fast-deletable (no signal, no row loading).
    """
    for model, _ in files.models_with_files(managed=True):
        stored.track(model)
        uid = model._meta.label
        pre_save.connect(file_pre_save, sender=model, dispatch_uid=f"files.pre_save.{uid}")
        post_save.connect(file_post_save, sender=model, dispatch_uid=f"files.post_save.{uid}")
        pre_delete.connect(file_pre_delete, sender=model, dispatch_uid=f"files.delete.{uid}")


def log_schedules(sender=None, **kwargs) -> None:
    """At beat's start, one line per schedule with its next run: the log answers "is the
    nightly job scheduled?"."""
    for job in scheduled_jobs():
        if job.next_run is None:
            logger.info("schedule %r (%s): disabled", job.task.name, job.task.task)
            continue
        logger.info(
            "schedule %r (%s): %s, next run %s",
            job.task.name,
            job.task.task,
            job.task.scheduler,
            job.next_run.isoformat(),
        )
