"""File receivers for every model with a FileField."""

from django.db.models.signals import post_delete, pre_delete, pre_save

from core import stored
from files import lifecycle, tasks


def file_pre_save(sender, instance, raw=False, **kwargs):
    # Not `_state.adding`: a new instance saved with an existing primary key replaces a row.
    # Recorded before the save: if it fails, the deletion finds the name still held.
    if raw or instance.pk is None:
        return
    if replaced := lifecycle.replaced(instance):
        tasks.delete_files_on_commit(replaced)


def file_pre_delete(sender, instance, origin=None, **kwargs):
    # Before the delete: after it, a field the instance was loaded without cannot be read.
    if names := lifecycle.names_before_delete(instance, origin):
        tasks.gather(names, using=instance._state.db)


def file_post_delete(sender, instance, **kwargs):
    # The first one of a delete takes the names of all its rows: one outbox row a delete.
    tasks.delete_files_on_commit(tasks.take_gathered(using=instance._state.db))


def connect_file_receivers() -> None:
    """Connect the receivers to each model whose files follow its rows, and only to those.

    Per-model connections keep the others fast-deletable (no signal, no row loading).
    """
    for model, _ in lifecycle.models_with_files(managed=True):
        stored.track(model)
        uid = model._meta.label
        pre_save.connect(file_pre_save, sender=model, dispatch_uid=f"files.pre_save.{uid}")
        pre_delete.connect(file_pre_delete, sender=model, dispatch_uid=f"files.delete.{uid}")
        post_delete.connect(file_post_delete, sender=model, dispatch_uid=f"files.post_delete.{uid}")
