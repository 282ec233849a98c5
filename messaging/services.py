"""Writes of the messaging app: every change to messages and notifications."""

import logging
import math
from collections import Counter
from collections.abc import Iterable
from contextlib import nullcontext
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.auth import get_user_model
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import DEFAULT_DB_ALIAS, IntegrityError, connection, connections, transaction
from django.db.models import Exists, OuterRef, Q
from django.utils import timezone
from django.utils.translation import gettext as _

from core import metrics, replicas
from core.stored import stored_row
from files import lifecycle
from files import tasks as file_tasks
from messaging import attachments, conversations, effects, inbox_cache
from messaging.models import Message, MessageDeletion, MessageHistory, Notification

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


def send_rate() -> tuple[int, int]:
    """MESSAGE_SEND_RATE ("60/min") as (messages, seconds)."""
    number, _, period = settings.MESSAGE_SEND_RATE.partition("/")
    seconds = {"s": 1, "sec": 1, "min": 60, "h": 3600, "hour": 3600, "day": 86400}[period]
    return int(number), seconds


def message_send(
    *,
    sender: User,
    receiver: User | int,
    content: str,
    parent_message: Message | None = None,
    attachment=None,
) -> Message:
    """Save a message, its conversation rows and its effects (its live events and its
    notification, published by the outbox relay once this commits), in one statement.

    `receiver` may be only an id: the statement checks that it is an active user. Raises
    ValidationError if it is not, and TooManyMessages past the sender's MESSAGE_SEND_RATE.
    """
    message = Message(
        sender=sender,
        content=content,
        parent_message=parent_message,
        attachment=attachment or "",
        **(attachments.card(attachment) if attachment else {}),
    )
    if isinstance(receiver, User):
        message.receiver = receiver
    else:
        message.receiver_id = receiver
    if not (attachment and attachments.previewable(message.attachment_name)):
        return message_insert(message, rate=send_rate())
    with transaction.atomic():  # an image: its preview is asked for with the send
        message_insert(message, rate=send_rate())
        effects.thumbnail_wanted(message.pk)
    return message


def message_insert(message: Message, *, rate: tuple[int, int] | None = None) -> Message:
    """Write a new message and what a send writes with it (its conversation rows and its
    effects) in one statement, so one round trip and no transaction of its own.

    The statement inserts nothing if the receiver is not an active user (ValidationError) or
    if `rate` (messages, seconds) is given and the sender's sends in the last `seconds`
    already number `messages` (TooManyMessages): the sent messages are the rate's log, a
    sliding window. Two sends of one sender racing each other may both pass. (The factories
    of tests and benchmarks call this without a rate.)
    """
    message.validate_for_save(insert_checks_receiver=True)
    db = connections[DEFAULT_DB_ALIAS]
    sql, params = _insert_statement(message, rate, db)
    # A statement is atomic alone; inside a transaction, a savepoint keeps it usable if the
    # insert fails.
    atomic = transaction.atomic() if db.in_atomic_block else nullcontext()
    try:
        with atomic, db.cursor() as cursor:
            cursor.execute(sql, params)
            message_id, receiver_active, window_full_since = cursor.fetchone()
    except IntegrityError as error:
        # The receiver's row was deleted while this ran (an account purge).
        raise ValidationError({"receiver": _("This user no longer exists.")}) from error
    if not receiver_active:
        raise ValidationError(
            {"receiver": _("No active user has the id %(id)s.") % {"id": message.receiver_id}}
        )
    if message_id is None:
        waited = (message.timestamp - window_full_since).total_seconds()
        raise TooManyMessages(retry_after=max(1, math.ceil(rate[1] - waited)))
    message.pk = message_id
    message._state.adding, message._state.db = False, db.alias
    metrics.MESSAGES_SENT.inc()
    inbox_cache.invalidate_on_commit(message.sender_id, message.receiver_id)
    return message


def _insert_statement(message: Message, rate, db) -> tuple[str, list]:
    fields = [f for f in Message._meta.concrete_fields if not f.primary_key]
    columns = ", ".join(db.ops.quote_name(f.column) for f in fields)
    # The receiver's id is the checked row's: the id asked for may be out of the column's
    # range, which only the comparison with existing ids may see (a 400, not a 500).
    receiver = Message._meta.get_field("receiver")
    selected = ", ".join("receiver.id" if f is receiver else "%s" for f in fields)
    # pre_save as a save would: the attachment is stored and gets its name.
    values = [
        f.get_db_prep_save(f.pre_save(message, add=True), db) for f in fields if f is not receiver
    ]
    users, messages = User._meta.db_table, Message._meta.db_table
    ts = db.ops.quote_name("timestamp")
    window, window_params = "SELECT NULL::timestamptz AS since WHERE false", []
    if rate is not None:
        # The rate's oldest send still in the window when the window is full (index msg_sent).
        window = f"""SELECT {ts} AS since FROM {messages}
            WHERE sender_id = %s AND {ts} > %s ORDER BY {ts} DESC OFFSET %s LIMIT 1"""
        since = message.timestamp - timedelta(seconds=rate[1])
        window_params = [message.sender_id, since, rate[0] - 1]
    upsert = conversations.message_added_sql("new_message")
    outbox, outbox_params = effects.message_sent_sql("new_message")
    sql = f"""WITH receiver AS (SELECT id FROM {users} WHERE id = %s AND is_active),
        window_full AS ({window}),
        new_message AS (
            INSERT INTO {messages} ({columns})
            SELECT {selected} FROM receiver
            WHERE NOT EXISTS (SELECT FROM window_full)
            RETURNING id, sender_id, receiver_id, {ts} AS timestamp, read),
        conversation AS ({upsert}),
        outbox AS ({outbox})
        SELECT (SELECT id FROM new_message), EXISTS (SELECT FROM receiver),
            (SELECT since FROM window_full)"""
    return sql, [message.receiver_id, *window_params, *values, *outbox_params]


def message_check_editable(*, message: Message, editor: User) -> None:
    """Raise PermissionDenied unless `editor` may edit `message` (its sender only), and
    ValidationError if it was deleted."""
    if editor.pk != message.sender_id:
        raise PermissionDenied(_("Only the sender can edit a message."))
    if message.deleted_at is not None:
        raise ValidationError({"content": _("This message was deleted.")})


def message_edit(*, message: Message, editor: User, content: str) -> Message:
    """Change a message's content; once this commits its old version is kept by the history
    task, which then tells both people (the outbox)."""
    message_check_editable(message=message, editor=editor)
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message.pk)
        message_check_editable(message=locked, editor=editor)
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


def message_delete(*, message: Message, deleter: User) -> Message:
    """Delete a message for everyone (its sender only): its content, its attachment
    (deleted from storage once this commits, by the file lifecycle) and the versions of its
    edits go; the row stays, emptied, so that its replies still hang from it and the
    conversation shows "Message deleted" in its place. If it was unread, it is read now, so
    no count waits for a message nobody can read. Both people's pages are told (the outbox)
    and ops keep a MessageDeletion without the content. Deleting it again changes nothing.
    """
    if deleter.pk != message.sender_id:
        raise PermissionDenied(_("Only the sender can delete a message."))
    with transaction.atomic():
        locked = Message.objects.select_for_update().get(pk=message.pk)
        if locked.deleted_at is not None:
            return locked
        versions, _per_model = MessageHistory.objects.filter(message=locked).delete()
        files = [
            (lifecycle.storage_label(Message._meta.get_field(name)), stored.name)
            for name, stored in (("attachment", locked.attachment), ("thumbnail", locked.thumbnail))
            if stored
        ]
        MessageDeletion.objects.create(
            message_id=locked.pk,
            sender_id=locked.sender_id,
            receiver_id=locked.receiver_id,
            sent_at=locked.timestamp,
            had_attachment=bool(locked.attachment),
            versions_deleted=versions,
        )
        was_unread = not locked.read
        emptied = {
            "content": "",
            "attachment": "",
            "attachment_name": "",
            "attachment_size": None,
            "attachment_type": "",
            "thumbnail": "",
            "edited": False,
            "edited_at": None,
            "deleted_at": timezone.now(),
            "read": True,
        }
        for name, value in emptied.items():
            setattr(locked, name, value)
        Message.objects.filter(pk=locked.pk).update(**emptied)
        if was_unread:
            Notification.objects.filter(message=locked, read=False).update(read=True)
            conversations.messages_read(locked.receiver_id, {locked.sender_id: 1})
            unread_announce(user_id=locked.receiver_id)
        file_tasks.delete_files_on_commit(files)
        effects.message_deleted(locked.pk)
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
        if not Message.objects.filter(pk=message_id, deleted_at__isnull=True).exists():
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
                f"""WITH created AS (
                        INSERT INTO {notifications} (user_id, message_id, created_at, read)
                        SELECT receiver_id, id, %s, false FROM {messages} WHERE id = ANY(%s)
                        ORDER BY id ON CONFLICT DO NOTHING RETURNING id, message_id)
                    SELECT created.id, message.{connection.ops.quote_name("timestamp")}
                    FROM created JOIN {messages} message ON message.id = created.message_id
                    ORDER BY created.id""",
                [now, list(message_ids)],
            )
            rows = cursor.fetchall()
        created = [notification_id for notification_id, _sent in rows]
        effects.notifications_created(created)
    for _notification_id, sent in rows:
        metrics.observe_lag(metrics.NOTIFICATION_LAG, sent)
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
