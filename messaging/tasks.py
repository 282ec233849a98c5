"""Celery tasks of the messaging app. Each takes ids, refetches, and is safe to run twice."""

from django.conf import settings
from django.utils import timezone, translation
from django.utils.translation import gettext as _

from accounts import services as account_services
from accounts import tasks as account_tasks
from core.tasks import legacy_name, task
from jobs import alerts
from jobs.runs import recorded_task
from messaging import attachments, services

# A purge left pending this long is assumed lost (its publish failed) and is enqueued again.
PURGE_RESUME_AFTER_SECONDS = 600


@task(name="messaging.create_notifications")
def create_notifications(message_ids: list[int]) -> int:
    """Notify the receivers of these messages (the relay's batch of sends). Idempotent:
    a notification that exists is not made again, nor announced again."""
    return len(services.notifications_create(message_ids=message_ids))


@task(name="messaging.create_notification")
def create_notification(message_id: int) -> None:
    """The one-message form, still in the queues while the previous release drains."""
    services.notifications_create(message_ids=[message_id])


@task(name="messaging.record_edit")
def record_edit(message_id: int, old_content: str, edited_at: str, editor_id: int | None) -> None:
    services.history_record(
        message_id=message_id, old_content=old_content, edited_at=edited_at, editor_id=editor_id
    )


@task(name="messaging.make_thumbnail")
def make_thumbnail(message_id: int) -> str | None:
    """The preview of a message's image (messaging.attachments); safe to run twice."""
    return attachments.make_thumbnail(message_id)


@task(name="messaging.refresh_conversations")
def refresh_conversations(pairs: list[list[int]]) -> None:
    """Recompute these pairs' conversation rows from their messages (after a delete or an
    archive that did not go through a service)."""
    services.conversations_refresh(pairs=[tuple(pair) for pair in pairs])


@task(name="messaging.announce_unread")
def announce_unread(user_id: int) -> None:
    """Still in the queues while the previous release drains: now an outbox row."""
    services.unread_announce(user_id=user_id)


@recorded_task("reconcile_notifications", name="messaging.reconcile_notifications")
def reconcile_notifications() -> dict:
    """Create the notifications a path that bypassed the outbox left missing (and announce
    them), and resume purges whose task was lost. Anything made good raises an alert."""
    created = services.notifications_reconcile()
    pending = account_services.account_deletions_pending(
        older_than_seconds=PURGE_RESUME_AFTER_SECONDS
    )
    for user_id in pending:
        account_tasks.purge_account.delay(user_id)
    if created:
        alert_made_good(created)
    return {
        "notifications_created": created,
        "purges_resumed": len(pending),
    }


def alert_made_good(created: int) -> None:
    """Every send records its notification in the outbox: a notification the sweep had to
    make means a path bypassed it (a bug to find), so ops hear of it, once an hour."""
    with translation.override(settings.LANGUAGE_CODE):
        subject = _("The reconcile sweep made %(count)d notifications good") % {"count": created}
        body = _(
            "%(count)d messages older than five minutes had no notification. Sends record "
            "theirs in the outbox, so some path wrote messages without it (a script, a bulk "
            "insert?). Their notifications are made and announced now."
        ) % {"count": created}
    hour = timezone.now().strftime("%Y-%m-%dT%H")
    alerts.alert_condition(
        key=f"reconcile-made-good:{hour}", job="reconcile_notifications", subject=subject, body=body
    )


# Messages of the previous release, published under module paths (jobs 0003 renamed them).
legacy_name(create_notification, "messaging.tasks.create_notification")
legacy_name(record_edit, "messaging.tasks.record_edit")
legacy_name(announce_unread, "messaging.tasks.announce_unread")
legacy_name(reconcile_notifications, "messaging.tasks.reconcile_notifications")
