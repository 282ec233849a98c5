"""What a user's open pages and API clients are told (core.events), by the tasks that run
once a change has committed. The events and their data are listed in the README ("Live
events") and in the API schema (GET /api/v1/events/)."""

from collections import defaultdict
from datetime import datetime

from core import events
from messaging import selectors
from messaging.api.serializers import MessageSerializer


def message_data(message, sender_username: str) -> dict:
    """The API's representation of a message, with its sender's name (for the page to say
    who wrote)."""
    return {**MessageSerializer(message).data, "sender_username": sender_username}


def message_sent(message_id: int, *, notification: tuple[int, datetime]) -> None:
    """A new message: "message.received" and "notification.created" (its `notification`:
    id, created_at) to its receiver, with their new unread counts; "message.sent" to its
    sender (their other pages). One query: it runs for every message sent."""
    message = selectors.message_for_event(message_id)
    if message is None:
        return
    data = message_data(message, message.sender_username)
    unread = {"messages": message.unread_messages, "notifications": message.unread_notifications}
    notification_id, created_at = notification
    created = {"id": notification_id, "message": message.pk, "created_at": created_at}
    events.publish(
        [
            (message.receiver_id, "message.received", {"message": data, "unread": unread}),
            (
                message.receiver_id,
                "notification.created",
                {"notification": created, "unread": unread},
            ),
            (message.sender_id, "message.sent", {"message": data}),
        ]
    )


def message_edited(message_id: int) -> None:
    """ "message.edited" to both people of an edited message, with its new content."""
    message = selectors.message_with_people(message_id)
    if message is None:
        return
    data = {"message": message_data(message, message.sender.username)}
    people = {message.sender_id, message.receiver_id}
    events.publish((person, "message.edited", data) for person in people)


def unread_changed(user_id: int) -> None:
    """ "unread.changed": the user read messages or notifications (on any page or client)."""
    events.publish([(user_id, "unread.changed", {"unread": selectors.unread_counts(user_id)})])


def messages_deleted(rows, *, gone_user_id: int) -> None:
    """ "messages.deleted" to each correspondent of a user whose account is being purged:
    the ids of the messages gone (`rows`: id, sender id, receiver id), and their counts."""
    gone: dict[int, list[int]] = defaultdict(list)
    for message_id, sender_id, receiver_id in rows:
        other = receiver_id if sender_id == gone_user_id else sender_id
        if other != gone_user_id:
            gone[other].append(message_id)
    events.publish(
        (user_id, "messages.deleted", {"ids": ids, "unread": selectors.unread_counts(user_id)})
        for user_id, ids in gone.items()
    )
