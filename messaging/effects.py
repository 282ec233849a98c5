"""What follows a write of the messaging app: the outbox topics it records (in the write's
transaction, core.outbox) and what the relay publishes for each.

| topic | recorded by | the relay publishes |
| --- | --- | --- |
| `messaging.message_sent` | a send | "message.received", "message.sent" |
| `messaging.create_notifications` | a send | one notification task for a batch |
| `messaging.notifications_created` | that task, with its rows | "notification.created" |
| `messaging.record_edit` | an edit (the old content) | the history task |
| `messaging.message_edited` | that task, with the version | "message.edited" |
| `messaging.message_deleted` | a delete for everyone | "message.deleted" |
| `messaging.make_thumbnail` | a send with an image | the preview task |
| `messaging.attachment_ready` | that task, with the preview | "attachment.ready" |
| `messaging.unread_changed` | marking read | "unread.changed" |
| `messaging.messages_deleted` | each batch of a purge | "messages.deleted" |
| `messaging.refresh_conversations` | a delete or archive outside the services | a refresh task |
"""

from collections import defaultdict

from django.conf import settings
from django.db import DEFAULT_DB_ALIAS

from core import events as live
from core import outbox
from messaging import events

MESSAGE_SENT = "messaging.message_sent"
NOTIFICATIONS_CREATED = "messaging.notifications_created"
MESSAGE_EDITED = "messaging.message_edited"
MESSAGE_DELETED = "messaging.message_deleted"
ATTACHMENT_READY = "messaging.attachment_ready"
UNREAD_CHANGED = "messaging.unread_changed"
MESSAGES_DELETED = "messaging.messages_deleted"
# Tasks (messaging/tasks.py) the relay publishes.
CREATE_NOTIFICATIONS = "messaging.create_notifications"
RECORD_EDIT = "messaging.record_edit"
REFRESH_CONVERSATIONS = "messaging.refresh_conversations"
MAKE_THUMBNAIL = "messaging.make_thumbnail"


# --- Recording (inside the write's transaction) --------------------------------------------


# What a new message records: its live events, and its notification.
MESSAGE_SENT_TOPICS = (MESSAGE_SENT, CREATE_NOTIFICATIONS)


def message_sent(message_id: int, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """A new message saved outside messaging.services (the admin, a script)."""
    payload = {"message_id": message_id}
    outbox.record_many([(topic, payload) for topic in MESSAGE_SENT_TOPICS], using=using)


def message_sent_sql(source: str) -> tuple[str, list]:
    """`message_sent` for each new message (with an `id`) of `source`, as one INSERT inside
    the message's own statement (messaging.services.message_insert)."""
    return outbox.record_sql(MESSAGE_SENT_TOPICS, "jsonb_build_object('message_id', id)", source)


def notifications_created(notification_ids: list[int]) -> None:
    if notification_ids:
        outbox.record(NOTIFICATIONS_CREATED, {"ids": notification_ids})


def message_edited(
    message_id: int, *, old_content: str, edited_at: str, editor_id: int | None
) -> None:
    """An edit: its old version, for the history task (which announces the edit once the
    version is written, so that a page reloading on the event finds it: `edit_recorded`)."""
    edit = {
        "message_id": message_id,
        "old_content": old_content,
        "edited_at": edited_at,
        "editor_id": editor_id,
    }
    outbox.record(RECORD_EDIT, edit)


def edit_recorded(message_id: int) -> None:
    outbox.record(MESSAGE_EDITED, {"message_id": message_id})


def message_deleted(message_id: int) -> None:
    outbox.record(MESSAGE_DELETED, {"message_id": message_id})


def unread_changed(user_id: int) -> None:
    outbox.record(UNREAD_CHANGED, {"user_id": user_id})


def thumbnail_wanted(message_id: int) -> None:
    """A message with an image: its preview, made by the worker once this commits."""
    outbox.record(MAKE_THUMBNAIL, {"message_id": message_id})


def attachment_ready(message_id: int) -> None:
    outbox.record(ATTACHMENT_READY, {"message_id": message_id})


def messages_deleted(rows, *, gone_user_id: int) -> None:
    """Messages deleted with a purged account (`rows`: id, sender id, receiver id): their
    ids to each correspondent."""
    gone: dict[int, list[int]] = defaultdict(list)
    for message_id, sender_id, receiver_id in rows:
        other = receiver_id if sender_id == gone_user_id else sender_id
        if other != gone_user_id:
            gone[other].append(message_id)
    if gone:
        outbox.record(MESSAGES_DELETED, {"gone": {str(k): v for k, v in gone.items()}})


def conversations_changed(pairs, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Messages of these pairs were deleted or archived outside the services."""
    if pairs:
        payload = {"pairs": sorted([list(pair) for pair in pairs])}
        outbox.record(REFRESH_CONVERSATIONS, payload, using=using)


# --- Publishing (the relay) -----------------------------------------------------------------


def _publish(typed) -> None:
    live.publish_typed(typed, raise_errors=True)


@outbox.topic(MESSAGE_SENT)
def _message_sent(rows: list[outbox.Row]) -> None:
    ids = [row.payload["message_id"] for row in rows]
    _publish(events.messages_sent(ids))


@outbox.topic(NOTIFICATIONS_CREATED)
def _notifications_created(rows: list[outbox.Row]) -> None:
    _publish(events.notifications_created([i for row in rows for i in row.payload["ids"]]))


def _per_message(rows: list[outbox.Row], build, message_of) -> None:
    """Publish the (person, event) pairs `build` makes of the rows' messages, each event
    keyed by the row of its message (`message_of(event)`), so a row published twice appends
    each event once."""
    by_message = {row.payload["message_id"]: row for row in rows}
    pairs = build(list(by_message))
    _publish(
        [(person, event, by_message[message_of(event)].key(person)) for person, event in pairs]
    )


@outbox.topic(MESSAGE_EDITED)
def _message_edited(rows: list[outbox.Row]) -> None:
    _per_message(rows, events.messages_edited, lambda event: event.message.id)


@outbox.topic(MESSAGE_DELETED)
def _message_deleted(rows: list[outbox.Row]) -> None:
    _per_message(rows, events.message_deleted, lambda event: event.id)


@outbox.topic(ATTACHMENT_READY)
def _attachment_ready(rows: list[outbox.Row]) -> None:
    _per_message(rows, events.attachments_ready, lambda event: event.id)


@outbox.topic(UNREAD_CHANGED)
def _unread_changed(rows: list[outbox.Row]) -> None:
    # The counts as they are now: one event per reader, however many rows they have.
    _publish(events.unread_changed(row.payload["user_id"] for row in rows))


@outbox.topic(MESSAGES_DELETED)
def _messages_deleted(rows: list[outbox.Row]) -> None:
    for row in rows:
        gone = {int(user_id): ids for user_id, ids in row.payload["gone"].items()}
        keyed = [(u, event, row.key(u)) for u, event in events.messages_deleted(gone)]
        _publish(keyed)


def _notification_calls(payloads: list[dict]):
    yield ([p["message_id"] for p in payloads],), {}


outbox.task_topic(
    CREATE_NOTIFICATIONS,
    calls=_notification_calls,
    linger=settings.OUTBOX_TASK_LINGER_SECONDS,
    batch=500,
)
outbox.task_topic(RECORD_EDIT)
outbox.task_topic(REFRESH_CONVERSATIONS)
outbox.task_topic(MAKE_THUMBNAIL)
