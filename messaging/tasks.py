"""Celery tasks of the messaging app. Each takes ids, refetches, and is safe to run twice."""

from celery import shared_task
from django.db import OperationalError

from maintenance.runs import RunSkipped, recorded_run
from messaging import services

# A database that restarts or fails over raises OperationalError for a few seconds: retry.
RETRY_ON_DB_ERRORS = {
    "autoretry_for": (OperationalError,),
    "retry_backoff": 1,
    "retry_backoff_max": 60,
    "retry_jitter": True,
    "max_retries": 8,
}
# A purge left pending this long is assumed lost (its publish failed) and is enqueued again.
PURGE_RESUME_AFTER_SECONDS = 600


@shared_task(**RETRY_ON_DB_ERRORS)
def create_notification(message_id: int) -> None:
    services.notification_create(message_id=message_id)


# The old content exists nowhere else: if it cannot be published it is written inline.
@shared_task(run_inline_if_unpublished=True, **RETRY_ON_DB_ERRORS)
def record_edit(message_id: int, old_content: str, edited_at: str, editor_id: int) -> None:
    services.history_record(
        message_id=message_id, old_content=old_content, edited_at=edited_at, editor_id=editor_id
    )


@shared_task(**RETRY_ON_DB_ERRORS)
def purge_account(user_id: int) -> int:
    return services.account_purge(user_id=user_id)


@shared_task(**RETRY_ON_DB_ERRORS)
def reconcile_notifications() -> dict | None:
    """Create notifications whose task was lost, and resume purges whose task was lost."""
    try:
        with recorded_run("reconcile_notifications", {}) as run:
            created = services.notifications_reconcile()
            pending = services.account_deletions_pending(
                older_than_seconds=PURGE_RESUME_AFTER_SECONDS
            )
            for user_id in pending:
                purge_account.delay(user_id)
            run.counts = {"notifications_created": created, "purges_resumed": len(pending)}
            return run.counts
    except RunSkipped:
        return None
