"""Celery tasks of the accounts app. Each takes ids, refetches, and is safe to run twice."""

from accounts import services
from core.tasks import legacy_name, task


@task(name="accounts.purge_account")
def purge_account(user_id: int) -> int:
    return services.account_purge(user_id=user_id)


# Messages of the previous release, published under module paths (jobs 0003 renamed them).
legacy_name(purge_account, "messaging.tasks.purge_account")
