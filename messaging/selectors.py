"""Reads of the messaging app: what a user may see, as QuerySets."""

from django.contrib.auth import get_user_model
from django.core.paginator import Page, Paginator
from django.db import connection, connections
from django.db.models import Exists, OuterRef, Q, QuerySet

from messaging.models import MESSAGE_FIELDS, Conversation, Message, MessageHistory, Notification

User = get_user_model()


def messages_visible_to(user) -> QuerySet[Message]:
    return Message.objects.involving(user)


def inbox_for(user, *, box: str = "inbox", unread: bool = False) -> QuerySet[Message]:
    """Received (or, with box="sent", sent) messages, newest first, with the other person."""
    if box == "sent":
        messages = Message.objects.filter(sender=user).select_related("receiver")
        fields = (*MESSAGE_FIELDS, "receiver__username")
    else:
        messages = Message.objects.filter(receiver=user).select_related("sender")
        fields = (*MESSAGE_FIELDS, "sender__username")
    if unread:
        messages = messages.unread_only()
    return messages.only(*fields).order_by("-timestamp", "-id")


def conversations_for(user) -> QuerySet[Conversation]:
    """The people the user exchanges messages with, most recent activity first, each with
    the last message (either way) and how many from them are unread: one query a page."""
    return (
        Conversation.objects.filter(owner=user)
        .select_related("other", "last_message")
        .only(
            "id",
            "unread",
            "last_at",
            "other__id",
            "other__username",
            *(f"last_message__{field}" for field in MESSAGE_FIELDS),
        )
        .order_by("-last_at", "-id")
    )


# A thread can run to thousands of messages: pages and the API show it in parts of this many.
THREAD_PART_SIZE = 200


def thread_part(message_id: int, *, page: str | None = None) -> Page:
    """The part of the thread of `message_id` to show: page `page` (1 if it is not a
    number), or without one the part holding the message. Only that part's messages are
    loaded, with their depth and their sender and receiver."""
    outline = Message.objects.thread_outline(message_id)
    paginator = Paginator(outline, THREAD_PART_SIZE)
    if page is not None:
        part = paginator.get_page(page)
    else:
        position = next(i for i, entry in enumerate(outline) if entry.id == message_id)
        part = paginator.page(position // THREAD_PART_SIZE + 1)
    loaded = Message.objects.with_people(entry.id for entry in part.object_list)
    messages = []
    for entry in part.object_list:
        message = loaded[entry.id]
        message.root_id, message.depth = entry.root_id, entry.depth
        messages.append(message)
    part.object_list = messages
    return part


def threads(root_ids) -> dict[int, list[Message]]:
    return Message.objects.threads(root_ids)


def conversation_roots(user, other) -> QuerySet:
    return Message.objects.conversation_roots(user, other)


def versions_of(messages) -> dict[int, list[MessageHistory]]:
    """The earlier versions of each edited message among these, oldest first, in one query."""
    versions: dict[int, list[MessageHistory]] = {}
    edited = [m.pk for m in messages if m.edited]
    for version in MessageHistory.objects.filter(message_id__in=edited).order_by("edited_at", "id"):
        versions.setdefault(version.message_id, []).append(version)
    return versions


def pairs_of(message_ids: list[int], *, using: str = "default") -> set[tuple[int, int]]:
    """The (sender, receiver) ids of these messages (an archive batch: 1,000)."""
    # One array parameter: binding a 1,000-item IN list took 15 ms, this 3 ms.
    table = connections[using].ops.quote_name(Message._meta.db_table)
    with connections[using].cursor() as cursor:
        cursor.execute(
            f"SELECT DISTINCT sender_id, receiver_id FROM {table} WHERE id = ANY(%s)",
            [list(message_ids)],
        )
        return set(cursor.fetchall())


def unread_count(user) -> int:
    return Message.unread_messages.count_for_user(user)


def history_of(message: Message) -> QuerySet[MessageHistory]:
    return message.history.order_by("edited_at", "id")


def notifications_for(user, *, unread: bool = False) -> QuerySet[Notification]:
    notifications = Notification.objects.filter(user=user).select_related("message__sender")
    if unread:
        notifications = notifications.filter(read=False)
    return notifications.order_by("-created_at", "-id")


def correspondent(user, other_id: int):
    """The person `other_id` if `user` may know of them: someone the user search lists
    (active, not staff) or anyone they have a conversation with; otherwise None, so that
    ids name no account the search hides (staff, deactivated)."""
    findable = Q(is_active=True, is_staff=False) | Q(pk=user.pk)
    talked = Exists(Conversation.objects.filter(owner=user, other=OuterRef("pk")))
    people = User.objects.filter(Q(pk=other_id) & (findable | Q(talked)))
    return people.only("id", "username").first()


def active_user(**lookup):
    """The active user matching the lookup (`pk=`, `username__iexact=`), or None."""
    return User.objects.filter(is_active=True, **lookup).first()


def message_of(user, message_id: int) -> Message | None:
    """A message the user sent or received, with only what a reply needs, or None."""
    return (
        messages_visible_to(user)
        .filter(pk=message_id)
        .only("id", "sender_id", "receiver_id")
        .first()
    )


def users_matching(query: str) -> QuerySet:
    """Active people whose username holds `query`; staff accounts are not listed."""
    users = User.objects.filter(is_active=True, is_staff=False, username__icontains=query)
    return users.only("id", "username").order_by("username")


def unread_counts(user_id: int) -> dict[str, int]:
    """What the header's badges show: {"messages": n, "notifications": n}."""
    return {
        "messages": Message.unread_messages.filter(receiver_id=user_id).count(),
        "notifications": Notification.objects.filter(user_id=user_id, read=False).count(),
    }


def unread_counts_of(user_ids) -> dict[int, dict[str, int]]:
    """`unread_counts` of several users, in one query on the primary (for live events)."""
    user_ids = sorted(set(user_ids))
    if not user_ids:
        return {}
    qn = connection.ops.quote_name
    messages, notifications = qn(Message._meta.db_table), qn(Notification._meta.db_table)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""SELECT u.id,
                    (SELECT COUNT(*) FROM {messages} x WHERE x.receiver_id = u.id AND NOT x.read),
                    (SELECT COUNT(*) FROM {notifications} n WHERE n.user_id = u.id AND NOT n.read)
                FROM unnest(%s::bigint[]) AS u(id)""",
            [user_ids],
        )
        return {row[0]: {"messages": row[1], "notifications": row[2]} for row in cursor}


def messages_with_people(message_ids) -> list[Message]:
    return list(Message.objects.select_related("sender", "receiver").filter(pk__in=message_ids))


def messages_for_events(message_ids) -> list[Message]:
    """These messages, each with `sender_username` and its receiver's `unread_messages` and
    `unread_notifications` counts, in one query. Runs for every message sent: written out,
    it costs a quarter of the ORM's compiling of the same query (0.5 against 2.2 ms here)."""
    qn = connection.ops.quote_name
    messages, notifications = qn(Message._meta.db_table), qn(Notification._meta.db_table)
    sql = f"""
        SELECT m.*, s.{qn("username")} AS sender_username,
            (SELECT COUNT(*) FROM {messages} x
             WHERE x.receiver_id = m.receiver_id AND NOT x.read) AS unread_messages,
            (SELECT COUNT(*) FROM {notifications} n
             WHERE n.user_id = m.receiver_id AND NOT n.read) AS unread_notifications
        FROM {messages} m JOIN {qn(User._meta.db_table)} s ON s.id = m.sender_id
        WHERE m.id = ANY(%s) ORDER BY m.id"""
    return list(Message.objects.raw(sql, [list(message_ids)]))


def notifications_for_events(notification_ids) -> list[Notification]:
    """These notifications, each with its user's `unread_messages` and
    `unread_notifications` counts, in one query."""
    qn = connection.ops.quote_name
    messages, notifications = qn(Message._meta.db_table), qn(Notification._meta.db_table)
    sql = f"""
        SELECT n.*,
            (SELECT COUNT(*) FROM {messages} x
             WHERE x.receiver_id = n.user_id AND NOT x.read) AS unread_messages,
            (SELECT COUNT(*) FROM {notifications} y
             WHERE y.user_id = n.user_id AND NOT y.read) AS unread_notifications
        FROM {notifications} n WHERE n.id = ANY(%s) ORDER BY n.id"""
    return list(Notification.objects.raw(sql, [list(notification_ids)]))
