"""QuerySets and managers of messages: threads, conversations and the unread inbox."""

from collections import defaultdict, namedtuple
from collections.abc import Iterable

from django.contrib.auth import get_user_model
from django.db import connections, models
from django.db.models import Q

# The user columns loaded with each message of a thread (never the password hash).
THREAD_USER_FIELDS = ("id", "username")


class MessageQuerySet(models.QuerySet):
    def involving(self, user) -> "MessageQuerySet":
        return self.filter(Q(sender=user) | Q(receiver=user))

    def between(self, user_a, user_b) -> "MessageQuerySet":
        return self.filter(Q(sender=user_a, receiver=user_b) | Q(sender=user_b, receiver=user_a))

    def unread_only(self) -> "MessageQuerySet":
        return self.filter(read=False)

    def thread(self, message_id: int) -> list:
        """The whole thread of `message_id`, in display order, in one SQL query.

        Each message carries `depth` (0 for the root) and has its sender and receiver
        loaded. Empty when the message does not exist.
        """
        return _fetch_threads(self.model, self.db, roots_of_message=message_id)

    def thread_outline(self, message_id: int) -> list["OutlineEntry"]:
        """The whole thread of `message_id` in display order, as (root_id, depth, id,
        parent_message_id, timestamp) only: a part of it is then loaded with `with_people`."""
        return _display_order(_fetch_outline(self.model, self.db, message_id))

    def with_people(self, ids: Iterable[int]) -> dict[int, object]:
        """These messages by id, with their sender's and receiver's id and username."""
        people = [
            f"{side}__{name}" for side in ("sender", "receiver") for name in THREAD_USER_FIELDS
        ]
        messages = self.filter(id__in=list(ids)).select_related("sender", "receiver")
        fields = [f.attname for f in self.model._meta.concrete_fields]
        return {m.pk: m for m in messages.only(*fields, *people)}

    def threads(self, root_ids: Iterable[int]) -> dict[int, list]:
        """The messages of each thread under `root_ids`, in display order, in one query."""
        by_root = {root_id: [] for root_id in root_ids}
        if by_root:
            for message in _fetch_threads(self.model, self.db, root_ids=list(by_root)):
                by_root[message.root_id].append(message)
        return by_root

    def conversation_roots(self, user_a, user_b) -> "MessageQuerySet":
        """Ids of the roots of the threads between two users, newest first."""
        return (
            self.between(user_a, user_b)
            .filter(parent_message=None)
            .order_by("-timestamp", "-id")
            .values_list("id", flat=True)
        )

    def conversation(self, user_a, user_b) -> list[list]:
        """The threads between two users, newest thread first, in two queries."""
        return list(self.threads(self.conversation_roots(user_a, user_b)).values())


class MessageManager(models.Manager.from_queryset(MessageQuerySet)):
    pass


class UnreadMessagesManager(models.Manager.from_queryset(MessageQuerySet)):
    """`Message.unread_messages`: unread received messages."""

    def get_queryset(self):
        return super().get_queryset().filter(read=False)

    def for_user(self, user) -> MessageQuerySet:
        return (
            self.get_queryset()
            .filter(receiver=user)
            .select_related("sender")
            .only(*self.model.FIELDS_SHOWN, "sender__username")
            .order_by("-timestamp", "-id")
        )

    def count_for_user(self, user) -> int:
        return self.get_queryset().filter(receiver=user).count()


def _fetch_threads(
    message_model, db: str, *, roots_of_message: int | None = None, root_ids=None
) -> list:
    user_model = get_user_model()
    connection = connections[db]
    qn = connection.ops.quote_name
    table, user_table = qn(message_model._meta.db_table), qn(user_model._meta.db_table)
    message_fields = [f.attname for f in message_model._meta.concrete_fields]
    if roots_of_message is not None:
        # Walk up from the message to its root first, then down from the root.
        roots_cte = f"""
            ancestors(id, parent_id) AS (
                SELECT id, parent_message_id FROM {table} WHERE id = %s
                UNION ALL
                SELECT m.id, m.parent_message_id FROM {table} m
                JOIN ancestors a ON m.id = a.parent_id
            ),
            roots(id) AS (SELECT id FROM ancestors WHERE parent_id IS NULL),"""
        params = [roots_of_message]
    else:
        placeholders = ", ".join(["%s"] * len(root_ids))
        roots_cte = f"roots(id) AS (SELECT id FROM {table} WHERE id IN ({placeholders})),"
        params = list(root_ids)
    columns = ", ".join(
        [f"m.{qn(name)}" for name in message_fields]
        + [f"s.{qn(name)}" for name in THREAD_USER_FIELDS]
        + [f"r.{qn(name)}" for name in THREAD_USER_FIELDS]
    )
    sql = f"""
        WITH RECURSIVE {roots_cte}
        thread(id, root_id, depth) AS (
            SELECT id, id, 0 FROM roots
            UNION ALL
            SELECT m.id, t.root_id, t.depth + 1 FROM {table} m
            JOIN thread t ON m.parent_message_id = t.id
        )
        SELECT t.root_id, t.depth, {columns}
        FROM thread t
        JOIN {table} m ON m.id = t.id
        JOIN {user_table} s ON s.id = m.sender_id
        JOIN {user_table} r ON r.id = m.receiver_id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        rows = cursor.fetchall()
    converters = _converters(connection, message_model, message_fields)
    n, u = len(message_fields), len(THREAD_USER_FIELDS)
    messages = []
    for row in rows:
        values = [
            convert(value) for convert, value in zip(converters, row[2 : 2 + n], strict=False)
        ]
        message = message_model.from_db(db, message_fields, values)
        message.root_id, message.depth = row[0], row[1]
        message._state.fields_cache["sender"] = user_model.from_db(
            db, THREAD_USER_FIELDS, row[2 + n : 2 + n + u]
        )
        message._state.fields_cache["receiver"] = user_model.from_db(
            db, THREAD_USER_FIELDS, row[2 + n + u :]
        )
        messages.append(message)
    return _display_order(messages)


OutlineEntry = namedtuple("OutlineEntry", "root_id depth id parent_message_id timestamp")


def _fetch_outline(message_model, db: str, message_id: int) -> list[OutlineEntry]:
    connection = connections[db]
    table = connection.ops.quote_name(message_model._meta.db_table)
    sql = f"""
        WITH RECURSIVE ancestors(id, parent_id) AS (
            SELECT id, parent_message_id FROM {table} WHERE id = %s
            UNION ALL
            SELECT m.id, m.parent_message_id FROM {table} m
            JOIN ancestors a ON m.id = a.parent_id
        ),
        thread(id, root_id, depth) AS (
            SELECT id, id, 0 FROM ancestors WHERE parent_id IS NULL
            UNION ALL
            SELECT m.id, t.root_id, t.depth + 1 FROM {table} m
            JOIN thread t ON m.parent_message_id = t.id
        )
        SELECT t.root_id, t.depth, m.id, m.parent_message_id, m.timestamp
        FROM thread t JOIN {table} m ON m.id = t.id
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, [message_id])
        rows = cursor.fetchall()
    [convert] = _converters(connection, message_model, ["timestamp"])
    return [OutlineEntry(r[0], r[1], r[2], r[3], convert(r[4])) for r in rows]


def _converters(connection, model, attnames):
    """Per-column functions turning raw cursor values into Python values (e.g. dates)."""
    fields = {f.attname: f for f in model._meta.concrete_fields}
    result = []
    for name in attnames:
        col = fields[name].get_col(model._meta.db_table)
        funcs = connection.ops.get_db_converters(col) + col.field.get_db_converters(connection)

        def convert(value, funcs=funcs, col=col):
            for func in funcs:
                value = func(value, col, connection)
            return value

        result.append(convert)
    return result


def _display_order(messages: list) -> list:
    """Depth-first order: each message followed by its replies, siblings by timestamp."""
    children = defaultdict(list)
    roots = []
    for message in messages:
        if message.depth == 0:
            roots.append(message)
        else:
            children[message.parent_message_id].append(message)

    def key(message):
        return (message.timestamp, message.id)

    ordered, stack = [], sorted(roots, key=key, reverse=True)
    while stack:
        message = stack.pop()
        ordered.append(message)
        stack.extend(sorted(children.get(message.id, ()), key=key, reverse=True))
    return ordered
