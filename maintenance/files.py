"""Files referenced by FileFields: which models hold them, and deleting the unreferenced ones.

Every function works on storage names (the value of the field) in the default storage.
"""

import logging
from collections.abc import Iterable, Iterator

from django.apps import apps
from django.core.files.storage import default_storage
from django.db import models

from maintenance.batching import after_commit

logger = logging.getLogger(__name__)

# How many names one deletion task carries; a purge of 100,000 rows makes 100 tasks.
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
    fields = [f.attname for f in file_fields(instance)]
    stored = type(instance)._base_manager.filter(pk=instance.pk).values(*fields).first() or {}
    return [old for field, old in stored.items() if old and old != getattr(instance, field).name]


def referenced(names: Iterable[str]) -> set[str]:
    """The subset of `names` that some row of some model still references (indexed lookups)."""
    names = list(set(names))
    found: set[str] = set()
    for model, fields in models_with_files():
        for field in fields:
            found.update(
                model._base_manager.filter(**{f"{field.attname}__in": names}).values_list(
                    field.attname, flat=True
                )
            )
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


def delete_on_commit(names: Iterable[str]) -> None:
    """Hand these names to deletion tasks once the transaction commits, in batches."""
    after_commit("files.delete_on_commit", names, _publish_deletions)


def _publish_deletions(names: list[str]) -> None:
    from maintenance.tasks import delete_files

    names = sorted(set(names))
    for start in range(0, len(names), NAMES_PER_TASK):
        # A failed publish leaves orphans, never a lost file: sweep_orphaned_files finds them.
        delete_files.publish_or_fallback((names[start : start + NAMES_PER_TASK],), {})
