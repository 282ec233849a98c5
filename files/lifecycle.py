"""The file lifecycle: files referenced by FileFields, which fields hold them, where they
are stored, and deleting the ones no row references any more (files/signals.py hands them
over when rows go or files are replaced; files/tasks.py deletes them after the commit).

The rules:
- A file is deleted through its field's own storage, and only when no row of a field with
  that same storage holds its name, nor a row kept elsewhere (`references_elsewhere`: the
  archive's).
- A field's default file (`FileField(default="...")`) is shared by design: never deleted.
- `@keep_files` on a model (or `@keep_files("field", ...)`) leaves its files alone: they
  are never deleted from here, and still count as references.
- `file_deleting` and `file_deleted` are sent around each deletion (with `storage` and
  `name`), for whoever keeps copies (thumbnails, a CDN).
"""

import logging
from collections.abc import Iterable, Iterator

from django.apps import apps
from django.core.files.storage import default_storage
from django.db import models
from django.dispatch import Signal

from core.stored import stored_row, values_before_delete

logger = logging.getLogger(__name__)

# How many names one deletion task carries (a purge of 100,000 rows makes 100 tasks), and
# how many the sweep checks at a time.
NAMES_PER_TASK = 1000

# Sent by the deletion (in the worker) before and after a file goes: storage=, name=.
file_deleting = Signal()
file_deleted = Signal()
# Sent by `referenced` for each model with file fields (sender: the model; fields=, names=):
# a receiver returns the names among `names` that rows kept elsewhere still hold (the
# maintenance app's archived rows, which a restore brings back with their files).
references_elsewhere = Signal()


def keep_files(*args):
    """Class decorator: never delete this model's files (or only those of the named fields)."""
    if len(args) == 1 and isinstance(args[0], type):
        args[0]._keep_files = {"*"}
        return args[0]

    def decorator(model):
        model._keep_files = set(args)
        return model

    return decorator


def file_fields(model) -> list[models.FileField]:
    """Every file field of the model, kept ones included (they still reference names)."""
    return [f for f in model._meta.concrete_fields if isinstance(f, models.FileField)]


def managed_fields(model) -> list[models.FileField]:
    """The file fields whose files follow their rows (not opted out with @keep_files)."""
    kept = getattr(model, "_keep_files", set())
    return [] if "*" in kept else [f for f in file_fields(model) if f.name not in kept]


def models_with_files(*, managed: bool = False) -> Iterator[tuple[type[models.Model], list]]:
    for model in apps.get_models():
        if fields := (managed_fields(model) if managed else file_fields(model)):
            yield model, fields


def label(field: models.FileField) -> str:
    return f"{field.model._meta.label}.{field.name}"


def storage_of(field_label: str | None):
    """The storage of the field named `app_label.Model.field` (None: the default storage)."""
    if field_label is None:
        return default_storage
    model_label, _, name = field_label.rpartition(".")
    return apps.get_model(model_label)._meta.get_field(name).storage


def storage_label(field: models.FileField) -> str | None:
    """What a deletion task is told of the storage: None for the default storage."""
    return None if field.storage is default_storage else label(field)


def _name(value) -> str:
    """The storage name of a field's value (a FieldFile, a name, or nothing)."""
    return getattr(value, "name", value) or ""


def _deletable(field: models.FileField, name: str) -> bool:
    return bool(name) and name != _default_name(field)


def _default_name(field: models.FileField) -> str:
    default = field.get_default() if field.has_default() else ""
    return _name(default)


def names_before_delete(instance, origin=None) -> list[tuple[str | None, str]]:
    """(storage label, name) of the files of a row being deleted, read before it goes."""
    fields = managed_fields(instance)
    values = values_before_delete(instance, [f.attname for f in fields], origin)
    return [
        (storage_label(f), name) for f in fields if _deletable(f, name := _name(values[f.attname]))
    ]


def replaced(instance) -> list[tuple[str | None, str]]:
    """(storage label, name) the row holds in the database that this instance no longer holds."""
    stored = stored_row(instance) or {}
    return [
        (storage_label(f), old)
        for f in managed_fields(instance)
        if _deletable(f, old := stored.get(f.attname) or "")
        and old != _name(getattr(instance, f.attname))
    ]


def referenced(names: Iterable[str], storage=default_storage) -> set[str]:
    """The subset of `names` in `storage` that a row, live or archived, still holds, or that
    is a field's default file."""
    names = list(set(names))
    found: set[str] = set()
    for model, fields in models_with_files():
        fields = [f for f in fields if f.storage is storage]
        if not fields:
            continue
        for field in fields:
            if (default := _default_name(field)) in names:
                found.add(default)
            live = model._base_manager.filter(**{f"{field.attname}__in": names})
            found.update(live.values_list(field.attname, flat=True))
        for _, held in references_elsewhere.send(sender=model, fields=fields, names=names):
            found.update(held or ())
    return found


def delete_unreferenced(names: Iterable[str], field: str | None = None) -> dict:
    """Delete the files no row references from the storage of `field` (`app_label.Model.field`,
    None: the default storage); a file that cannot be deleted is logged and skipped."""
    storage = storage_of(field)
    names = set(names)
    keep = referenced(names, storage)
    deleted, errors = 0, 0
    for name in sorted(names - keep):
        try:
            if storage.exists(name):
                delete(storage, name)
                deleted += 1
        except Exception:
            errors += 1
            logger.exception("could not delete file %s", name)
    return {"deleted": deleted, "kept_referenced": len(keep), "errors": errors}


def delete(storage, name: str) -> None:
    """Delete one file, with file_deleting and file_deleted around it."""
    file_deleting.send(sender=type(storage), storage=storage, name=name)
    storage.delete(name)
    file_deleted.send(sender=type(storage), storage=storage, name=name)
