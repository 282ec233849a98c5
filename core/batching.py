"""Side effects gathered per transaction and run once, after it commits.

Deleting 1,000 rows in one transaction sends 1,000 post_delete signals; a receiver that
enqueued a task (or hit Redis) for each would flood the broker. `after_commit` gathers the
items of one transaction under a name and hands them to one callback on commit. On rollback
Django drops the callback, and the items with it.
"""

from collections.abc import Callable, Iterable

from django.db import DEFAULT_DB_ALIAS, connections, transaction


def after_commit(
    name: str, items: Iterable, flush: Callable[[list], None], using: str = DEFAULT_DB_ALIAS
):
    """Add `items` to the batch `name` of the current transaction; `flush(batch)` on commit.

    Outside a transaction (autocommit) `flush` runs at once, like `on_commit`.
    """
    connection = connections[using]
    if not connection.in_atomic_block:
        flush(list(items))
        return
    # A batch belongs to one savepoint level: items added inside a savepoint that is rolled
    # back must not ride along with a batch registered before it.
    owner = (name, tuple(connection.savepoint_ids))
    pending = connection.__dict__.setdefault("_after_commit_batches", {})
    if not connection.run_on_commit:
        pending.clear()  # batches of transactions rolled back earlier
    batch = pending.get(owner)
    if batch is None or not any(cb[1] == batch.flush for cb in connection.run_on_commit):
        batch = pending[owner] = _Batch(flush, lambda: pending.pop(owner, None))
        transaction.on_commit(batch.flush, using=using, robust=True)
    batch.items.extend(items)


class _Batch:
    def __init__(self, callback: Callable[[list], None], forget: Callable[[], None]):
        self.items: list = []
        self._callback, self._forget = callback, forget

    def flush(self) -> None:
        self._forget()
        self._callback(self.items)
