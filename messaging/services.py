"""Writes of the messaging app: every change to messages and notifications."""

import logging
import math
import time
from collections import Counter
from collections.abc import Iterable
from datetime import datetime, timedelta

import redis
from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.cache import cache
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, connection, transaction
from django.db.models import Exists, OuterRef, Q
from django.dispatch import Signal
from django.utils import timezone
from django.utils.translation import gettext as _
from django_redis import get_redis_connection

from core.stored import stored_row
from messaging import conversations, events, inbox_cache
from messaging.models import (
    Message,
    MessageHistory,
    Notification,
    PendingEdit,
)

logger = logging.getLogger(__name__)
User = get_user_model()

# Sent, in its transaction, when a user's messages or notifications were marked read
# (keyword user_id): messaging.signals tells the user's open pages once it commits.
unread_changed = Signal()


# --- Messages -------------------------------------------------------------------------------


class TooManyMessages(Exception):
    """The sender reached MESSAGE_SEND_RATE; `retry_after` seconds until the next window."""

    def __init__(self, retry_after: int):
        super().__init__(
            _("Too many messages; try again in %(seconds)d s.") % {"seconds": retry_after}
        )
        self.retry_after = retry_after


def message_send_allowed(*, sender: User) -> None:
    """Count a send against the sender's MESSAGE_SEND_RATE ("60/min"); raise TooManyMessages
    past it. A fixed window in the cache: if the cache is down, sending goes on."""
    number, _, period = settings.MESSAGE_SEND_RATE.partition("/")
    seconds = {"s": 1, "sec": 1, "min": 60, "h": 3600, "hour": 3600, "day": 86400}[period]
    now = time.time()
    key = cache.make_key(f"send-rate:{sender.pk}:{int(now // seconds)}")
    try:  # one round trip
        count, _ = (
            get_redis_connection("default")
            .pipeline(transaction=False)
            .incr(key)
            .expire(key, seconds + 1, nx=True)
            .execute()
        )
    except redis.RedisError:  # the cache is down: sending goes on
        return
    if count > int(number):
        raise TooManyMessages(retry_after=max(1, math.ceil(seconds - now % seconds)))


def message_send(
    *,
    sender: User,
    receiver: User,
    content: str,
    parent_message: Message | None = None,
    attachment=None,
) -> Message:
    """Save a message; its notification is created by a task once the transaction commits.

    Raises TooManyMessages past the sender's MESSAGE_SEND_RATE.
    """
    message_send_allowed(sender=sender)
    message = Message(
        sender=sender,
        receiver=receiver,
        content=content,
        parent_message=parent_message,
        attachment=attachment or "",
    )
    try:
        with transaction.atomic():
            message.save()
    except IntegrityError as error:
        # The receiver's row was deleted between validation and commit (an account purge).
        raise ValidationError({"receiver": _("This user no longer exists.")}) from error
    return message


def message_check_editable(*, message: Message, editor: User) -> None:
    """Raise PermissionDenied unless `editor` may edit `message` (its sender only)."""
    if editor.pk != message.sender_id:
        raise PermissionDenied(_("Only the sender can edit a message."))


def message_edit(*, message: Message, editor: User, content: str) -> Message:
    """Change a message's content; the old version is kept by a task after commit."""
    message_check_editable(message=message, editor=editor)
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message.pk)
        locked.content = content
        locked._editor_id = editor.pk
        locked.save()
    return locked


def message_stage_edit(message: Message) -> None:
    """Called before a message is saved: flag a content change and remember the old content.

    The old content is read from the database, not from the instance, so an edit made
    through a stale instance still records what was really replaced.
    """
    if message._state.adding:
        return
    row = stored_row(message)
    old = row and row["content"]
    if old is None or old == message.content:
        return
    message.edited = True
    message.edited_at = timezone.now()
    message._staged_edit = {
        "old_content": old,
        "edited_at": message.edited_at.isoformat(),
        "editor_id": getattr(message, "_editor_id", message.sender_id),
    }


def history_stage(*, message: Message, old_content: str, edited_at: str, editor_id: int) -> None:
    """Keep an edit's old content in its transaction until the history task writes it."""
    PendingEdit.objects.create(
        message=message,
        old_content=old_content,
        edited_at=datetime.fromisoformat(edited_at),
        edited_by_id=editor_id,
    )


def history_record(
    *, message_id: int, old_content: str, edited_at: str, editor_id: int | None
) -> MessageHistory | None:
    """Write one previous version; running it twice for the same edit writes one row."""
    when = datetime.fromisoformat(edited_at)
    with transaction.atomic():
        PendingEdit.objects.filter(message_id=message_id, edited_at=when).delete()
        if not Message.objects.filter(pk=message_id).exists():
            logger.info("message %s is gone; its history is not written", message_id)
            return None
        history, _ = MessageHistory.objects.get_or_create(
            message_id=message_id,
            edited_at=when,
            defaults={
                "old_content": old_content,
                "edited_by_id": editor_id if User.objects.filter(pk=editor_id).exists() else None,
            },
        )
    return history


def history_reconcile(*, older_than_seconds: int) -> int:
    """Write the versions whose history task was lost (see PendingEdit). Returns how many."""
    cutoff = timezone.now() - timedelta(seconds=older_than_seconds)
    pending = PendingEdit.objects.filter(created_at__lt=cutoff).order_by("id")
    written = 0
    for edit in pending.iterator():
        history_record(
            message_id=edit.message_id,
            old_content=edit.old_content,
            edited_at=edit.edited_at.isoformat(),
            editor_id=edit.edited_by_id,
        )
        written += 1
    return written


def messages_mark_read(*, user: User, ids: Iterable[int] | None = None) -> int:
    """Mark the user's received messages (all, or those ids) and their notifications read.

    Ids of messages the user did not receive are ignored. Returns how many messages changed.
    """
    messages = Message.unread_messages.filter(receiver=user)
    if ids is not None:
        messages = messages.filter(id__in=list(ids))
    with transaction.atomic():
        rows = list(messages.select_for_update().values_list("id", "sender_id"))
        changed = [message_id for message_id, _sender in rows]
        updated = Message.objects.filter(id__in=changed).update(read=True)
        Notification.objects.filter(user=user, message_id__in=changed, read=False).update(read=True)
        conversations.messages_read(user.pk, Counter(sender_id for _message, sender_id in rows))
        if updated:
            inbox_cache.invalidate_on_commit(user.pk)
            unread_changed.send(sender=Message, user_id=user.pk)
    return updated


# --- Notifications --------------------------------------------------------------------------


def notification_create(*, message_id: int) -> tuple[int, datetime] | None:
    """Notify the receiver of a message. Idempotent; nothing if the message is gone.

    Runs once per message sent, so it is one statement (get_or_create took four round trips).
    Returns the new notification's (id, created_at), or None if there was one already.
    """
    notifications = connection.ops.quote_name(Notification._meta.db_table)
    messages = connection.ops.quote_name(Message._meta.db_table)
    now = timezone.now()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO {notifications} (user_id, message_id, created_at, read)
                SELECT receiver_id, id, %s, %s FROM {messages} WHERE id = %s
                ON CONFLICT DO NOTHING RETURNING id""",
            [connection.ops.adapt_datetimefield_value(now), False, message_id],
        )
        row = cursor.fetchone()
    return (row[0], now) if row else None


def notifications_reconcile(*, batch_size: int = 1000) -> int:
    """Create every missing notification (publishes lost to a broker outage). Returns count."""
    created = 0
    missing = Message.objects.filter(
        ~Exists(Notification.objects.filter(message=OuterRef("pk"), user=OuterRef("receiver")))
    )
    while True:
        rows = list(missing.order_by("id").values_list("id", "receiver_id")[:batch_size])
        if not rows:
            return created
        # ignore_conflicts: the regular task may create the same row meanwhile.
        Notification.objects.bulk_create(
            [Notification(message_id=m, user_id=u) for m, u in rows], ignore_conflicts=True
        )
        created += len(rows)


def messages_purge(*, user_id: int, batch_size: int) -> int:
    """Delete every message a user sent or received, batch by batch (accounts' purge asks,
    through accounts.services.user_data_purge). Returns messages deleted.

    Safe to run twice or at the same time: each batch locks its rows (SKIP LOCKED), and
    deleting what is already gone deletes nothing.
    """
    theirs = Message.objects.filter(Q(sender_id=user_id) | Q(receiver_id=user_id))
    deleted = 0
    while True:
        with transaction.atomic():
            batch = list(
                theirs.select_for_update(skip_locked=True)
                .order_by("-id")
                .values_list("id", "sender_id", "receiver_id")[:batch_size]
            )
            if not batch:
                break
            # Cascades take each batch's notifications, histories and replies; the receivers
            # hand the attachment names to one file-deletion task per batch.
            _, per_model = Message.objects.filter(id__in=[row[0] for row in batch]).delete()
            deleted += per_model.get(Message._meta.label, 0)
        events.messages_deleted(batch, gone_user_id=user_id)
    return deleted


def notifications_mark_read(*, user: User, ids: list[int] | None = None) -> int:
    notifications = Notification.objects.filter(user=user, read=False)
    if ids is not None:
        notifications = notifications.filter(id__in=ids)
    updated = notifications.update(read=True)
    if updated:
        unread_changed.send(sender=Notification, user_id=user.pk)
    return updated
