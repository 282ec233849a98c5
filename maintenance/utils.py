"""The maintenance utilities, importable from one place."""

from core.cache import cache_result
from maintenance.archive import archive_old_records, restore_archived_records
from maintenance.cleanup import cleanup_temporary_files

__all__ = [
    "archive_old_records",
    "cache_result",
    "cleanup_temporary_files",
    "restore_archived_records",
]
