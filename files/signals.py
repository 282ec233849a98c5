"""File receivers for every model with a FileField."""

from django.db.models.signals import post_save, pre_delete, pre_save

from core import stored
from files import lifecycle, tasks


def file_pre_save(sender, instance, raw=False, **kwargs):
    # Not `_state.adding`: a new instance saved with an existing primary key replaces a row.
    if raw or instance.pk is None:
        return
    instance._replaced_files = lifecycle.replaced(instance)


def file_post_save(sender, instance, raw=False, **kwargs):
    if replaced := instance.__dict__.pop("_replaced_files", None):
        tasks.delete_files_on_commit(replaced)


def file_pre_delete(sender, instance, origin=None, **kwargs):
    # Before the delete: after it, a field the instance was loaded without cannot be read.
    if names := lifecycle.names_before_delete(instance, origin):
        tasks.delete_files_on_commit(names)


def connect_file_receivers() -> None:
    """Connect the receivers to each model whose files follow its rows, and only to those.

    Per-model connections keep the others fast-deletable (no signal, no row loading).
    """
    for model, _ in lifecycle.models_with_files(managed=True):
        stored.track(model)
        uid = model._meta.label
        pre_save.connect(file_pre_save, sender=model, dispatch_uid=f"files.pre_save.{uid}")
        post_save.connect(file_post_save, sender=model, dispatch_uid=f"files.post_save.{uid}")
        pre_delete.connect(file_pre_delete, sender=model, dispatch_uid=f"files.delete.{uid}")
