"""The live events of the messaging app, each declared once (core.event_types), and how the
outbox relay builds them from the rows it publishes (messaging.effects).

The README's "Live events" table, the API schema of GET /api/v1/events/ and the pages'
handlers (live.js) are checked against these declarations by tests/test_event_types.py.
"""

from collections.abc import Iterable
from datetime import datetime

from django.urls import reverse

from core.event_types import EventType, Payload
from messaging import selectors


class Unread(Payload):
    """The user's unread counts after the change, as the header's badges show them."""

    messages: int
    notifications: int


class MessageData(Payload):
    """A message as `/api/v1/messages/` shows it, plus its sender's name."""

    id: int
    sender: int
    receiver: int
    content: str
    timestamp: datetime
    edited: bool
    edited_at: datetime | None
    read: bool
    parent_message: int | None
    attachment: str | None
    attachment_name: str
    attachment_size: int | None
    attachment_type: str
    thumbnail: str | None
    deleted_at: datetime | None
    sender_username: str


class NotificationData(Payload):
    id: int
    message: int
    created_at: datetime


class MessageReceived(EventType, name="message.received", to="the receiver"):
    """A message to you."""

    message: MessageData
    unread: Unread


class MessageSent(EventType, name="message.sent", to="the sender (their other pages and clients)"):
    """A message you sent, from another page or client."""

    message: MessageData


class MessageEdited(EventType, name="message.edited", to="both people"):
    """A message of yours or to you was edited: its new content."""

    message: MessageData


class MessageDeleted(EventType, name="message.deleted", to="both people"):
    """A message was deleted for everyone by its sender: its place shows "Message deleted"."""

    id: int
    sender: int
    receiver: int


class AttachmentReady(EventType, name="attachment.ready", to="both people"):
    """The preview of a message's image is ready: `thumbnail` is its URL."""

    id: int
    sender: int
    receiver: int
    thumbnail: str


class NotificationCreated(EventType, name="notification.created", to="the receiver"):
    """A notification of a message to you."""

    notification: NotificationData
    unread: Unread


class UnreadChanged(EventType, name="unread.changed", to="the reader"):
    """Messages or notifications were marked read (on any page or client)."""

    unread: Unread


class MessagesDeleted(
    EventType, name="messages.deleted", to="each correspondent of a deleted account"
):
    """Messages gone with their other person's account."""

    ids: list[int]
    unread: Unread


def message_data(message, sender_username: str) -> MessageData:
    attachment = reverse("message-attachment", args=[message.pk]) if message.attachment else None
    thumbnail = reverse("message-thumbnail", args=[message.pk]) if message.thumbnail else None
    return MessageData(
        id=message.pk,
        sender=message.sender_id,
        receiver=message.receiver_id,
        content=message.content,
        timestamp=message.timestamp,
        edited=message.edited,
        edited_at=message.edited_at,
        read=message.read,
        parent_message=message.parent_message_id,
        attachment=attachment,
        attachment_name=message.attachment_name,
        attachment_size=message.attachment_size,
        attachment_type=message.attachment_type,
        thumbnail=thumbnail,
        deleted_at=message.deleted_at,
        sender_username=sender_username,
    )


def unread(counts: dict[str, int]) -> Unread:
    return Unread(**counts)


def messages_sent(message_ids: list[int]) -> Iterable[tuple[int, EventType, str]]:
    """For each message: "message.received" to its receiver (with their unread counts) and
    "message.sent" to its sender, keyed by (message, event) so each is appended once."""
    for message in selectors.messages_for_events(message_ids):
        data = message_data(message, message.sender_username)
        counts = Unread(
            messages=message.unread_messages, notifications=message.unread_notifications
        )
        received = MessageReceived(message=data, unread=counts)
        yield message.receiver_id, received, f"received:{message.pk}"
        yield message.sender_id, MessageSent(message=data), f"sent:{message.pk}"


def notifications_created(notification_ids: list[int]) -> Iterable[tuple[int, EventType, str]]:
    """ "notification.created" to each notification's user, with their unread counts."""
    for notification in selectors.notifications_for_events(notification_ids):
        data = NotificationData(
            id=notification.pk,
            message=notification.message_id,
            created_at=notification.created_at,
        )
        counts = Unread(
            messages=notification.unread_messages,
            notifications=notification.unread_notifications,
        )
        event = NotificationCreated(notification=data, unread=counts)
        yield notification.user_id, event, f"notification:{notification.pk}"


def messages_edited(message_ids: list[int]) -> Iterable[tuple[int, EventType]]:
    """ "message.edited" to both people of each message, with its content as it is now."""
    for message in selectors.messages_with_people(message_ids):
        event = MessageEdited(message=message_data(message, message.sender.username))
        for person in {message.sender_id, message.receiver_id}:
            yield person, event


def message_deleted(message_ids: list[int]) -> Iterable[tuple[int, EventType]]:
    """ "message.deleted" to both people of each message."""
    for message in selectors.messages_with_people(message_ids):
        event = MessageDeleted(
            id=message.pk, sender=message.sender_id, receiver=message.receiver_id
        )
        for person in {message.sender_id, message.receiver_id}:
            yield person, event


def attachments_ready(message_ids: list[int]) -> Iterable[tuple[int, EventType]]:
    """ "attachment.ready" to both people of each message whose preview was made."""
    for message in selectors.messages_with_people(message_ids):
        if not message.thumbnail:
            continue
        event = AttachmentReady(
            id=message.pk,
            sender=message.sender_id,
            receiver=message.receiver_id,
            thumbnail=reverse("message-thumbnail", args=[message.pk]),
        )
        for person in {message.sender_id, message.receiver_id}:
            yield person, event


def unread_changed(user_ids: Iterable[int]) -> Iterable[tuple[int, EventType]]:
    for user_id, counts in selectors.unread_counts_of(user_ids).items():
        yield user_id, UnreadChanged(unread=unread(counts))


def messages_deleted(gone: dict[int, list[int]]) -> Iterable[tuple[int, EventType]]:
    """ "messages.deleted" to each correspondent of a purged account (`gone`: user id → the
    ids of their messages deleted)."""
    counts = selectors.unread_counts_of(gone)
    for user_id, ids in gone.items():
        yield user_id, MessagesDeleted(ids=ids, unread=unread(counts[user_id]))
