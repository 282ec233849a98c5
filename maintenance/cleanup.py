"""cleanup_temporary_files: delete old regular files below an allowed root, safely.

The rules of tmpreaper and GNU find: only regular files (never what a symbolic link points
to, never the link), then directories left empty. The walk is file-descriptor based
(os.fwalk, unlink and rmdir relative to the directory's fd), so swapping a directory for a
symbolic link mid-walk cannot redirect a deletion outside the root.
"""

import argparse
import errno
import math
import os
import stat
import time
from dataclasses import dataclass, field
from pathlib import Path

from django.conf import settings

# At most this many paths are listed in a result (the counts are always complete).
LISTED_PATHS = 1000


def age(value, name: str) -> float:
    """`value` as an age (days, hours): a finite number, 0 or more, or a ValueError saying so.

    NaN compares false with everything: unchecked, it makes every file old.
    """
    try:
        number = float(value)
    except (TypeError, ValueError):
        raise ValueError(f"{name} must be a number, not {value!r}") from None
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{name} must be a finite number of 0 or more, not {value!r}")
    return number


def age_argument(text: str) -> float:
    """The argparse type of the commands' age options."""
    try:
        return age(text, "the age")
    except ValueError as error:
        raise argparse.ArgumentTypeError(str(error)) from None


class CleanupRefused(ValueError):
    """The directory is not one cleanup may touch."""


@dataclass
class CleanupResult:
    directory: str
    files_deleted: int = 0
    bytes_freed: int = 0
    dirs_removed: int = 0
    errors: list[str] = field(default_factory=list)
    deleted: list[str] = field(default_factory=list)  # what went (or would go, in a dry run)
    dry_run: bool = False

    def as_counts(self) -> dict:
        return {
            "files_deleted": self.files_deleted,
            "bytes_freed": self.bytes_freed,
            "dirs_removed": self.dirs_removed,
            "errors": len(self.errors),
        }


def allowed_root(directory: str | os.PathLike) -> Path:
    """The real path of `directory` if it is, or is inside, an allowed root; else refuse."""
    real = Path(os.path.realpath(directory))
    roots = [Path(os.path.realpath(root)) for root in settings.MAINTENANCE_CLEANUP_ROOTS]
    if not any(real == root or root in real.parents for root in roots):
        allowed = ", ".join(str(root) for root in roots) or "none configured"
        raise CleanupRefused(
            f"{directory} is outside the allowed cleanup roots ({allowed}); "
            "set MAINTENANCE_CLEANUP_ROOTS to allow it"
        )
    if not real.is_dir():
        raise CleanupRefused(
            f"{directory} is not a directory: create it (mkdir -p {real}), or point the "
            "schedule's `directory` at one of MAINTENANCE_CLEANUP_ROOTS that exists"
        )
    return real


def ensure_roots() -> list[Path]:
    """Create MEDIA_ROOT and the cleanup roots inside it (the defaults) that are missing;
    returns those created. A root elsewhere is the operator's to create: a typo there must
    fail loudly, not be swept in silence."""
    media = Path(settings.MEDIA_ROOT)
    wanted = [media] + [
        Path(root) for root in settings.MAINTENANCE_CLEANUP_ROOTS if media in Path(root).parents
    ]
    created = [path for path in wanted if not path.is_dir()]
    for path in created:
        path.mkdir(parents=True, exist_ok=True)
    return created


def cleanup_temporary_files(
    directory: str | os.PathLike, max_age_days: float = 7, *, dry_run: bool = False
) -> CleanupResult:
    """Delete regular files older than `max_age_days` below `directory`, then empty dirs."""
    max_age_days = age(max_age_days, "max_age_days")
    root = allowed_root(directory)
    cutoff = time.time() - max_age_days * 86400
    result = CleanupResult(directory=str(root), dry_run=dry_run)
    emptied: set[str] = set()
    for dirpath, dirnames, filenames, dirfd in os.fwalk(root, topdown=False):
        for name in filenames:
            if _delete_if_old(dirpath, name, dirfd, cutoff, result):
                emptied.add(dirpath)
        if not dry_run:
            for name in dirnames:
                _remove_if_empty(dirpath, name, dirfd, cutoff, emptied, result)
    return result


def _delete_if_old(dirpath: str, name: str, dirfd: int, cutoff: float, result) -> bool:
    path = os.path.join(dirpath, name)
    try:
        info = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
        if not stat.S_ISREG(info.st_mode) or info.st_mtime >= cutoff:
            return False
        if not result.dry_run:
            os.unlink(name, dir_fd=dirfd)
    except FileNotFoundError:
        return False  # gone meanwhile: nothing to do
    except OSError as error:
        result.errors.append(f"{path}: {error.strerror}")
        return False
    result.files_deleted += 1
    result.bytes_freed += info.st_size
    if len(result.deleted) < LISTED_PATHS:
        result.deleted.append(path)
    return True


def _remove_if_empty(dirpath, name, dirfd, cutoff, emptied: set[str], result) -> None:
    """Remove a sub-directory that this run emptied, or that was already empty and old."""
    path = os.path.join(dirpath, name)
    try:
        info = os.stat(name, dir_fd=dirfd, follow_symlinks=False)
        if not stat.S_ISDIR(info.st_mode):
            return  # a symbolic link to a directory: never followed, never removed
        if path not in emptied and info.st_mtime >= cutoff:
            return  # possibly an upload's fresh directory
        os.rmdir(name, dir_fd=dirfd)
    except OSError as error:
        if error.errno not in (errno.ENOTEMPTY, errno.EEXIST, errno.ENOENT):
            result.errors.append(f"{path}: {error.strerror}")
        return
    result.dirs_removed += 1
    emptied.add(dirpath)
