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
from django.utils import timezone
from django.utils.translation import gettext as _
from django_redis import get_redis_connection

from core import replicas
from core.stored import stored_row
from messaging import conversations, effects, inbox_cache
from messaging.models import Message, MessageHistory, Notification

logger = logging.getLogger(__name__)
User = get_user_model()


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
    """Save a message, its conversation rows and its effects (its live events and its
    notification, published by the outbox relay once this commits).

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
            message_insert(message)
    except IntegrityError as error:
        # The receiver's row was deleted between validation and commit (an account purge).
        raise ValidationError({"receiver": _("This user no longer exists.")}) from error
    return message


def message_insert(message: Message) -> Message:
    """Write a new message and, in the current transaction, what a send writes with it: its
    conversation rows and its effects. (The factories of tests and benchmarks use it too.)"""
    message.validate_for_save()
    with transaction.atomic():
        # bulk_create sends no signals: this function makes every effect of a send.
        Message.objects.bulk_create([message])
        conversations.message_added(message)
        effects.message_sent(message.pk)
        inbox_cache.invalidate_on_commit(message.sender_id, message.receiver_id)
    return message


def message_check_editable(*, message: Message, editor: User) -> None:
    """Raise PermissionDenied unless `editor` may edit `message` (its sender only)."""
    if editor.pk != message.sender_id:
        raise PermissionDenied(_("Only the sender can edit a message."))


def message_edit(*, message: Message, editor: User, content: str) -> Message:
    """Change a message's content; once this commits its old version is kept by the history
    task, which then tells both people (the outbox)."""
    message_check_editable(message=message, editor=editor)
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message.pk)
        if locked.content == content:
            return locked
        old_content = locked.content
        locked.content, locked.edited, locked.edited_at = content, True, timezone.now()
        locked.validate_for_save()
        # An update sends no signals: this function makes every effect of an edit.
        Message.objects.filter(pk=locked.pk).update(
            content=locked.content, edited=True, edited_at=locked.edited_at
        )
        effects.message_edited(
            locked.pk,
            old_content=old_content,
            edited_at=locked.edited_at.isoformat(),
            editor_id=editor.pk,
        )
        inbox_cache.invalidate_on_commit(locked.sender_id, locked.receiver_id)
    return locked


def message_edit_noticed(message: Message) -> None:
    """A save outside `message_edit` (the admin, a script) is about to change a message's
    content (pre_save): mark it edited and record the effects of an edit.

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
    effects.message_edited(
        message.pk,
        old_content=old,
        edited_at=message.edited_at.isoformat(),
        editor_id=message.sender_id,
    )


def history_record(
    *, message_id: int, old_content: str, edited_at: str, editor_id: int | None
) -> MessageHistory | None:
    """Write one previous version; running it twice for the same edit writes one row."""
    when = datetime.fromisoformat(edited_at)
    with transaction.atomic():
        if not Message.objects.filter(pk=message_id).exists():
            logger.info("message %s is gone; its history is not written", message_id)
            return None
        history, created = MessageHistory.objects.get_or_create(
            message_id=message_id,
            edited_at=when,
            defaults={
                "old_content": old_content,
                "edited_by_id": editor_id if User.objects.filter(pk=editor_id).exists() else None,
            },
        )
        if created:
            effects.edit_recorded(message_id)
    return history


def conversations_refresh(*, pairs: list[tuple[int, int]]) -> None:
    """Recompute these pairs' conversation rows from their messages, and drop the cached
    pages of their people (a cached list may have been made before the refresh)."""
    with transaction.atomic():
        conversations.refresh(pairs)
        inbox_cache.invalidate_on_commit(*{user_id for pair in pairs for user_id in pair})


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
            unread_announce(user_id=user.pk)
    return updated


def unread_announce(*, user_id: int) -> None:
    """Tell the user's open pages and clients their new unread counts, once this commits
    (and read them from the primary meanwhile: the replicas may not have the change)."""
    replicas.pin_on_commit(user_id)
    effects.unread_changed(user_id)


# --- Notifications --------------------------------------------------------------------------


def notifications_create(*, message_ids: list[int]) -> list[int]:
    """Notify the receivers of these messages, and announce the new notifications (the
    outbox). Idempotent: a message notified already, or gone, gets nothing. One statement
    for the batch. Returns the new notifications' ids."""
    notifications = connection.ops.quote_name(Notification._meta.db_table)
    messages = connection.ops.quote_name(Message._meta.db_table)
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute(
                f"""INSERT INTO {notifications} (user_id, message_id, created_at, read)
                    SELECT receiver_id, id, %s, false FROM {messages} WHERE id = ANY(%s)
                    ORDER BY id ON CONFLICT DO NOTHING RETURNING id""",
                [now, list(message_ids)],
            )
            created = [row[0] for row in cursor.fetchall()]
        effects.notifications_created(created)
    return created


# A message younger than this may still have its notification on the way (the outbox, the
# broker's queue): the reconcile leaves it alone.
RECONCILE_GRACE = timedelta(minutes=5)


def notifications_reconcile(*, batch_size: int = 1000) -> int:
    """Create (and announce) every notification missing for a message older than
    RECONCILE_GRACE: there should be none, as sends record theirs in the outbox; a count
    above zero means some path bypassed it. Returns the count."""
    created = 0
    missing = Message.objects.filter(
        ~Exists(Notification.objects.filter(message=OuterRef("pk"), user=OuterRef("receiver"))),
        timestamp__lt=timezone.now() - RECONCILE_GRACE,
    )
    while True:
        ids = list(missing.order_by("id").values_list("id", flat=True)[:batch_size])
        if not ids:
            return created
        created += len(notifications_create(message_ids=ids))
        if len(ids) < batch_size:
            return created


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
            effects.messages_deleted(batch, gone_user_id=user_id)
    return deleted


def notifications_mark_read(*, user: User, ids: list[int] | None = None) -> int:
    notifications = Notification.objects.filter(user=user, read=False)
    if ids is not None:
        notifications = notifications.filter(id__in=ids)
    with transaction.atomic():
        updated = notifications.update(read=True)
        if updated:
            unread_announce(user_id=user.pk)
    return updated
