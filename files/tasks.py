"""The file lifecycle's task: deleting, after the commit, the files rows no longer hold.
On the `maintenance` queue (routed by its name, `files.*`)."""

from django.db import DEFAULT_DB_ALIAS, connections

from core import outbox
from core.tasks import legacy_name, task
from files import lifecycle


@task(name="files.delete_files")
def delete_files(names: list[str], field: str | None = None) -> dict:
    """Delete these names from the storage of `field` (None: the default storage) unless a
    row still references them (idempotent)."""
    return lifecycle.delete_unreferenced(names, field)


DELETE_FILES = "files.delete_files"


def delete_files_on_commit(
    files_: list[tuple[str | None, str]], *, using: str = DEFAULT_DB_ALIAS
) -> None:
    """Record, in the current transaction, that these (storage label, name) must be deleted
    once it commits (the outbox: core.outbox). The relay folds the rows of a batch into
    tasks of one storage and NAMES_PER_TASK names. A deletion that runs while a row still
    holds the name deletes nothing (delete_unreferenced), so recording early is safe."""
    if files_:
        outbox.record(DELETE_FILES, {"files": [list(item) for item in files_]}, using=using)


def gather(files_: list[tuple[str | None, str]], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Keep these names until `take_gathered` (pre_delete, then post_delete of one delete)."""
    connections[using].__dict__.setdefault("_files_to_delete", []).extend(files_)


def take_gathered(*, using: str = DEFAULT_DB_ALIAS) -> list[tuple[str | None, str]]:
    return connections[using].__dict__.pop("_files_to_delete", [])


def _deletion_calls(payloads: list[dict]):
    by_storage: dict[str | None, set[str]] = {}
    for payload in payloads:
        for storage, name in payload["files"]:
            by_storage.setdefault(storage, set()).add(name)
    for storage, names in sorted(by_storage.items(), key=lambda item: item[0] or ""):
        names = sorted(names)
        options = {"field": storage} if storage else {}
        for start in range(0, len(names), lifecycle.NAMES_PER_TASK):
            yield (names[start : start + lifecycle.NAMES_PER_TASK],), options


outbox.task_topic(DELETE_FILES, calls=_deletion_calls)


# Messages of the previous release, published under its module path (jobs 0003 renamed it).
legacy_name(delete_files, "maintenance.tasks.delete_files")
