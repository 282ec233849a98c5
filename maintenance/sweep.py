"""The orphan sweep: files of the default storage that no row references any more (a delete
whose file task was lost, a file written by hand), deleted once old enough."""

import logging
import os
import stat
import time
from collections.abc import Iterable, Iterator
from pathlib import Path

from django.conf import settings
from django.core.files.storage import FileSystemStorage, default_storage

from files import lifecycle
from maintenance.cleanup import age

logger = logging.getLogger(__name__)


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
    for chunk in _chunks(_old_media_files(min_age_hours), lifecycle.NAMES_PER_TASK):
        counts["checked"] += len(chunk)
        orphans = sorted(set(chunk) - lifecycle.referenced(chunk))
        counts["orphans"] += len(orphans)
        for name in orphans if not dry_run else ():
            try:
                lifecycle.delete(default_storage, name)
                counts["deleted"] += 1
            except OSError:
                counts["errors"] += 1
                logger.exception("could not delete orphaned file %s", name)
    return counts


def _other_storage_roots() -> set[Path]:
    roots = set()
    for _, fields in lifecycle.models_with_files():
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
