"""What a row held before a save or a delete changes it, read once.

Receivers that compare old and new values (an edit's history, replaced files) each need the
stored row; reading it once per save spares a SELECT per receiver. A model's receivers call
`track(model)` before connecting themselves, so the per-save reset runs before them.
"""

from django.db.models import QuerySet
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


def values_before_delete(instance, attnames: list[str], origin=None) -> dict:
    """The instance's values of these fields, read before its row is deleted (pre_delete).

    An instance loaded without some fields (`.only("id")`) cannot read them after the delete:
    the fields it lacks are read for every row of the deleted queryset (`origin`) at once and
    kept on it, so a batch costs one query whichever receivers ask.
    """
    deferred = instance.get_deferred_fields()
    values = {name: instance.__dict__[name] for name in attnames if name not in deferred}
    if deferred & set(attnames):
        stored = _deferred_rows(instance, deferred, origin)
        values.update({name: stored.get(name) for name in attnames if name in deferred})
    return values


def _deferred_rows(instance, deferred: set[str], origin) -> dict:
    model = instance._meta.concrete_model
    names = sorted(deferred)
    if isinstance(origin, QuerySet) and origin.model._meta.concrete_model is model:
        batches = origin.__dict__.setdefault("_values_before_delete", {})
        key = tuple(names)
        if key not in batches:
            rows = origin.order_by().values_list("pk", *names)
            batches[key] = {pk: dict(zip(names, rest, strict=True)) for pk, *rest in rows}
        if (row := batches[key].get(instance.pk)) is not None:
            return row
    rows = model._base_manager.using(instance._state.db).filter(pk=instance.pk).values(*names)
    return rows.first() or {}
