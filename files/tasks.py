"""The file lifecycle's task: deleting, after the commit, the files rows no longer hold.
On the `maintenance` queue (routed by its name, `files.*`)."""

from core.batching import after_commit
from core.tasks import legacy_name, task
from files import lifecycle


@task(name="files.delete_files")
def delete_files(names: list[str], field: str | None = None) -> dict:
    """Delete these names from the storage of `field` (None: the default storage) unless a
    row still references them (idempotent)."""
    return lifecycle.delete_unreferenced(names, field)


def delete_files_on_commit(files_: list[tuple[str | None, str]]) -> None:
    """Hand these (storage label, name) to deletion tasks once the transaction commits, in
    batches of one storage."""
    after_commit("files.delete_on_commit", files_, _publish_deletions)


def _publish_deletions(files_: list[tuple[str | None, str]]) -> None:
    by_storage: dict[str | None, set[str]] = {}
    for storage, name in files_:
        by_storage.setdefault(storage, set()).add(name)
    for storage, names in sorted(by_storage.items(), key=lambda item: item[0] or ""):
        names = sorted(names)
        options = {"field": storage} if storage else {}
        for start in range(0, len(names), lifecycle.NAMES_PER_TASK):
            # A failed publish leaves orphans, never a lost file: the sweep finds them.
            batch = names[start : start + lifecycle.NAMES_PER_TASK]
            delete_files.publish_or_fallback((batch,), options)


# Messages of the previous release, published under its module path (jobs 0003 renamed it).
legacy_name(delete_files, "maintenance.tasks.delete_files")
