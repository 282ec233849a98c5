"""Celery tasks of the messaging app. Each takes ids, refetches, and is safe to run twice."""

from accounts import services as account_services
from accounts import tasks as account_tasks
from core.tasks import legacy_name, task
from jobs.runs import recorded_task
from messaging import events, services

# A purge left pending this long is assumed lost (its publish failed) and is enqueued again.
PURGE_RESUME_AFTER_SECONDS = 600
# An edit's old content still waiting this long lost its history task: written by reconcile.
HISTORY_RECOVER_AFTER_SECONDS = 60


@task(name="messaging.create_notification")
def create_notification(message_id: int) -> None:
    if notification := services.notification_create(message_id=message_id):
        events.message_sent(message_id, notification=notification)


# The old content exists nowhere else: if it cannot be published it is written inline.
@task(name="messaging.record_edit", run_inline_if_unpublished=True)
def record_edit(message_id: int, old_content: str, edited_at: str, editor_id: int) -> None:
    history = services.history_record(
        message_id=message_id, old_content=old_content, edited_at=edited_at, editor_id=editor_id
    )
    if history is not None:
        events.message_edited(message_id)


@task(name="messaging.announce_unread")
def announce_unread(user_id: int) -> None:
    events.unread_changed(user_id)


@recorded_task("reconcile_notifications", name="messaging.reconcile_notifications")
def reconcile_notifications() -> dict:
    """Create notifications, write versions and resume purges whose task was lost."""
    created = services.notifications_reconcile()
    versions = services.history_reconcile(older_than_seconds=HISTORY_RECOVER_AFTER_SECONDS)
    pending = account_services.account_deletions_pending(
        older_than_seconds=PURGE_RESUME_AFTER_SECONDS
    )
    for user_id in pending:
        account_tasks.purge_account.delay(user_id)
    return {
        "notifications_created": created,
        "versions_recovered": versions,
        "purges_resumed": len(pending),
    }


# Messages of the previous release, published under module paths (jobs 0003 renamed them).
legacy_name(create_notification, "messaging.tasks.create_notification")
legacy_name(record_edit, "messaging.tasks.record_edit")
legacy_name(announce_unread, "messaging.tasks.announce_unread")
legacy_name(reconcile_notifications, "messaging.tasks.reconcile_notifications")
