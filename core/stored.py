"""The row an instance being saved replaces, read once per save.

Receivers that compare old and new values (an edit's history, replaced files) each need the
stored row; reading it once per save spares a SELECT per receiver. A model's receivers call
`track(model)` before connecting themselves, so the per-save reset runs before them.
"""

from django.db.models.signals import post_save, pre_save

_KEY = "_stored_row"


def track(model) -> None:
    uid = model._meta.label
    pre_save.connect(_forget, sender=model, dispatch_uid=f"core.stored.pre_save.{uid}")
    post_save.connect(_forget, sender=model, dispatch_uid=f"core.stored.post_save.{uid}")


def stored_row(instance) -> dict | None:
    """The instance's row as stored (attname → value), None if it has none."""
    if _KEY not in instance.__dict__:
        fields = [f.attname for f in instance._meta.concrete_fields]
        rows = type(instance)._base_manager.filter(pk=instance.pk).values(*fields)
        instance.__dict__[_KEY] = rows.first()
    return instance.__dict__[_KEY]


def _forget(sender, instance, **kwargs) -> None:
    instance.__dict__.pop(_KEY, None)
