"""Files referenced by FileFields: which models hold them, and deleting the unreferenced ones.

Every function works on storage names (the value of the field) in the default storage.
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
from django.core.files.storage import default_storage
from django.db import models

from core.stored import stored_row
from maintenance.models import ArchivedRecord

logger = logging.getLogger(__name__)

# How many names one deletion task carries (a purge of 100,000 rows makes 100 tasks), and
# how many the sweep checks at a time.
NAMES_PER_TASK = 1000


def file_fields(model) -> list[models.FileField]:
    return [f for f in model._meta.concrete_fields if isinstance(f, models.FileField)]


def models_with_files() -> Iterator[tuple[type[models.Model], list[models.FileField]]]:
    for model in apps.get_models():
        if fields := file_fields(model):
            yield model, fields


def names_of(instance) -> list[str]:
    return [name for f in file_fields(instance) if (name := getattr(instance, f.attname).name)]


def replaced_names(instance) -> list[str]:
    """Names the row holds in the database that this unsaved instance no longer holds."""
    stored = stored_row(instance) or {}
    return [
        old
        for field in file_fields(instance)
        if (old := stored.get(field.attname)) and old != getattr(instance, field.attname).name
    ]


def referenced(names: Iterable[str]) -> set[str]:
    """The subset of `names` that a row, live or archived, still references."""
    names = list(set(names))
    found: set[str] = set()
    for model, fields in models_with_files():
        archived = ArchivedRecord.objects.filter(
            content_type=ContentType.objects.get_for_model(model)
        )
        for field in fields:
            live = model._base_manager.filter(**{f"{field.attname}__in": names})
            found.update(live.values_list(field.attname, flat=True))
            # An archived row can be restored: its file must stay.
            key = f"data__fields__{field.name}"
            found.update(archived.filter(**{f"{key}__in": names}).values_list(key, flat=True))
    return found


def delete_unreferenced(names: Iterable[str]) -> dict:
    """Delete the files no row references; a file that cannot be deleted is logged, skipped."""
    names = set(names)
    keep = referenced(names)
    deleted, errors = 0, 0
    for name in sorted(names - keep):
        try:
            if default_storage.exists(name):
                default_storage.delete(name)
                deleted += 1
        except Exception:
            errors += 1
            logger.exception("could not delete file %s", name)
    return {"deleted": deleted, "kept_referenced": len(keep), "errors": errors}


def sweep_orphaned_files(*, min_age_hours: float = 24, dry_run: bool = False) -> dict:
    """Delete files under MEDIA_ROOT that no row references and that are old enough.

    The age keeps uploads in flight safe (the file exists before its row commits). The
    cleanup roots are left to cleanup_temporary_files. Names are checked a chunk at a time,
    so memory does not grow with the number of rows or files.
    """
    counts = {"checked": 0, "orphans": 0, "deleted": 0, "errors": 0}
    for chunk in _chunks(_old_media_files(min_age_hours), NAMES_PER_TASK):
        counts["checked"] += len(chunk)
        orphans = sorted(set(chunk) - referenced(chunk))
        counts["orphans"] += len(orphans)
        for name in orphans if not dry_run else ():
            try:
                default_storage.delete(name)
                counts["deleted"] += 1
            except OSError:
                counts["errors"] += 1
                logger.exception("could not delete orphaned file %s", name)
    return counts


def _old_media_files(min_age_hours: float) -> Iterator[str]:
    root = Path(settings.MEDIA_ROOT)
    skipped = {Path(os.path.realpath(r)) for r in settings.MAINTENANCE_CLEANUP_ROOTS}
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
