"""Files referenced by FileFields: which fields hold them, where they are stored, and
deleting the ones no row references any more.

The rules:
- A file is deleted through its field's own storage, and only when no row, live or archived,
  of a field with that same storage holds its name.
- A field's default file (`FileField(default="...")`) is shared by design: never deleted.
- `@keep_files` on a model (or `@keep_files("field", ...)`) leaves its files alone: they
  are never deleted from here, and still count as references.
- `file_deleting` and `file_deleted` are sent around each deletion (with `storage` and
  `name`), for whoever keeps copies (thumbnails, a CDN).
"""

import logging
import os
import stat
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.apps import apps
from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.core.files.storage import FileSystemStorage, default_storage
from django.db import models
from django.dispatch import Signal

from core.stored import stored_row, values_before_delete
from maintenance.cleanup import age
from maintenance.models import ArchivedRecord

logger = logging.getLogger(__name__)

# How many names one deletion task carries (a purge of 100,000 rows makes 100 tasks), and
# how many the sweep checks at a time.
NAMES_PER_TASK = 1000

# Sent by the deletion (in the worker) before and after a file goes: storage=, name=.
file_deleting = Signal()
file_deleted = Signal()


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
        archived = ArchivedRecord.objects.filter(
            content_type=ContentType.objects.get_for_model(model)
        )
        for field in fields:
            if (default := _default_name(field)) in names:
                found.add(default)
            live = model._base_manager.filter(**{f"{field.attname}__in": names})
            found.update(live.values_list(field.attname, flat=True))
            # An archived row can be restored: its file must stay.
            key = f"data__fields__{field.name}"
            found.update(archived.filter(**{f"{key}__in": names}).values_list(key, flat=True))
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
                _delete(storage, name)
                deleted += 1
        except Exception:
            errors += 1
            logger.exception("could not delete file %s", name)
    return {"deleted": deleted, "kept_referenced": len(keep), "errors": errors}


def _delete(storage, name: str) -> None:
    file_deleting.send(sender=type(storage), storage=storage, name=name)
    storage.delete(name)
    file_deleted.send(sender=type(storage), storage=storage, name=name)


def sweep_orphaned_files(*, min_age_hours: float = 24, dry_run: bool = False) -> dict:
    """Delete files of the default storage (MEDIA_ROOT) that no row references and that are
    old enough.

    The age keeps uploads in flight safe (the file exists before its row commits). The
    cleanup roots are left to cleanup_temporary_files, and the directories of other storages
    inside MEDIA_ROOT to nobody: their names are not default-storage names. Names are checked
    a chunk at a time, so memory does not grow with the number of rows or files.
    """
    min_age_hours = age(min_age_hours, "min_age_hours")
    counts = {"checked": 0, "orphans": 0, "deleted": 0, "errors": 0}
    for chunk in _chunks(_old_media_files(min_age_hours), NAMES_PER_TASK):
        counts["checked"] += len(chunk)
        orphans = sorted(set(chunk) - referenced(chunk))
        counts["orphans"] += len(orphans)
        for name in orphans if not dry_run else ():
            try:
                _delete(default_storage, name)
                counts["deleted"] += 1
            except OSError:
                counts["errors"] += 1
                logger.exception("could not delete orphaned file %s", name)
    return counts


def _other_storage_roots() -> set[Path]:
    roots = set()
    for _, fields in models_with_files():
        for field in fields:
            storage = field.storage
            if storage is not default_storage and isinstance(storage, FileSystemStorage):
                roots.add(Path(os.path.realpath(storage.location)))
    return roots


def _old_media_files(min_age_hours: float) -> Iterator[str]:
    root = Path(settings.MEDIA_ROOT)
    others = _other_storage_roots()
    real_root = Path(os.path.realpath(root))
    if any(real_root.is_relative_to(other) for other in others):
        # Another storage holds MEDIA_ROOT: a name here may be one of its live files.
        logger.warning("sweep skipped: MEDIA_ROOT lies inside another storage's directory")
        return
    skipped = {Path(os.path.realpath(r)) for r in settings.MAINTENANCE_CLEANUP_ROOTS} | others
    cutoff = time.time() - min_age_hours * 3600
    for dirpath, dirnames, filenames in os.walk(root):  # does not follow directory links
        dirnames[:] = [
            d for d in dirnames if Path(os.path.realpath(os.path.join(dirpath, d))) not in skipped
        ]
        for name in filenames:
            path = Path(dirpath, name)
            info = path.lstat()
            if stat.S_ISREG(info.st_mode) and info.st_mtime < cutoff:
                yield path.relative_to(root).as_posix()


def _chunks(items: Iterable[str], size: int) -> Iterator[list[str]]:
    chunk: list[str] = []
    for item in items:
        chunk.append(item)
        if len(chunk) == size:
            yield chunk
            chunk = []
    if chunk:
        yield chunk
