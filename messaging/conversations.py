"""The conversations list (models.Conversation), kept in step with the messages.

Every change of messages changes it in its transaction, or records that it must:
- a message saved new: `message_added_sql`, one upsert of the pair's two rows in the
  message's own INSERT statement;
- messages read: `messages_read` lowers the reader's unread counts by what was read;
- messages deleted or archived: their pairs are marked `stale` while the rows are there, and
  once the rows are gone the pairs are handed to the refresh task through the outbox
  (messaging.effects), which recomputes them after the commit.
A pair's rows are written in (owner, other) order, so two writers of one pair queue rather
than deadlock. `refresh` recomputes any pairs from the messages.
"""

from collections.abc import Iterable

from django.db import DEFAULT_DB_ALIAS, connections
from django.db.models import Case, F, Value, When
from django.db.models.functions import Greatest

from messaging.models import Conversation, Message

Pair = tuple[int, int]  # two users' ids, the smaller first


def pair(a: int, b: int) -> Pair:
    return (a, b) if a < b else (b, a)


def message_added_sql(source: str, table: str = Conversation._meta.db_table) -> str:
    """An upsert of the pair's two rows for each new message in `source` (rows with id,
    sender_id, receiver_id, timestamp, read): the message is its pair's newest (unless an
    older one is restored), and one more unread for its receiver. For messaging.services'
    one-statement insert."""
    newer = (
        f"excluded.last_at > {table}.last_at OR (excluded.last_at = {table}.last_at"
        f" AND excluded.last_message_id > {table}.last_message_id)"
    )
    return f"""INSERT INTO {table} (owner_id, other_id, last_message_id, last_at, unread)
        SELECT pair.owner_id, pair.other_id, new.id, new.timestamp, pair.unread
        FROM {source} AS new CROSS JOIN LATERAL (VALUES
            (new.sender_id, new.receiver_id, 0),
            (new.receiver_id, new.sender_id, CASE WHEN new.read THEN 0 ELSE 1 END)
        ) AS pair(owner_id, other_id, unread)
        ORDER BY pair.owner_id, pair.other_id
        ON CONFLICT (owner_id, other_id) DO UPDATE SET
            unread = {table}.unread + excluded.unread,
            last_message_id = CASE WHEN {newer}
                THEN excluded.last_message_id ELSE {table}.last_message_id END,
            last_at = CASE WHEN {newer} THEN excluded.last_at ELSE {table}.last_at END"""


def messages_read(owner_id: int, read_from: dict[int, int], using: str = DEFAULT_DB_ALIAS):
    """`owner_id` has just read `read_from[other]` messages from each `other`."""
    if not read_from:
        return
    counts = Conversation._meta.get_field("unread")
    lowered = [
        When(other_id=other, then=Greatest(F("unread") - count, Value(0), output_field=counts))
        for other, count in sorted(read_from.items())
    ]
    Conversation.objects.using(using).filter(owner_id=owner_id, other_id__in=read_from).update(
        unread=Case(*lowered, default=F("unread"))
    )


def stale(pairs: Iterable[Pair], using: str = DEFAULT_DB_ALIAS) -> None:
    """These pairs lose messages in the current transaction: `refresh_stale` after it."""
    connections[using].__dict__.setdefault("_stale_conversations", set()).update(pairs)


def take_stale(using: str = DEFAULT_DB_ALIAS) -> set[Pair]:
    """The pairs marked `stale` in this transaction so far (then forgotten)."""
    return connections[using].__dict__.pop("_stale_conversations", set())


def refresh(pairs: Iterable[Pair], using: str = DEFAULT_DB_ALIAS) -> None:
    """Recompute both rows of each pair from the messages (none left: no rows)."""
    pairs = sorted({pair(*p) for p in pairs})
    if not pairs:
        return
    connection = connections[using]
    qn = connection.ops.quote_name
    conversations, messages = qn(Conversation._meta.db_table), qn(Message._meta.db_table)
    rows = sorted([*pairs, *((b, a) for a, b in pairs)])
    owners, others = [r[0] for r in rows], [r[1] for r in rows]
    given = "unnest(%s::bigint[], %s::bigint[]) AS p(owner_id, other_id)"
    ts, read = qn("timestamp"), qn("read")

    def newest(sender: str, receiver: str) -> str:  # one probe of the index msg_pair
        return f"""(SELECT id, {ts} FROM {messages} WHERE sender_id = {sender}
                    AND receiver_id = {receiver} ORDER BY {ts} DESC, id DESC LIMIT 1)"""

    with connection.cursor() as cursor:
        # Locked first, and read in the next statements: their snapshot then holds whatever
        # a writer of these rows had committed while this waited.
        cursor.execute(
            f"""SELECT c.id FROM {conversations} c JOIN {given}
                ON c.owner_id = p.owner_id AND c.other_id = p.other_id
                ORDER BY c.owner_id, c.other_id FOR UPDATE OF c""",
            [owners, others],
        )
        cursor.execute(
            f"""DELETE FROM {conversations} c USING {given}
                WHERE c.owner_id = p.owner_id AND c.other_id = p.other_id
                AND NOT EXISTS {newest("p.owner_id", "p.other_id")}
                AND NOT EXISTS {newest("p.other_id", "p.owner_id")}""",
            [owners, others],
        )
        cursor.execute(
            f"""INSERT INTO {conversations} (owner_id, other_id, last_message_id, last_at, unread)
                SELECT p.owner_id, p.other_id, last.id, last.{ts},
                    (SELECT COUNT(*) FROM {messages} m WHERE m.sender_id = p.other_id
                     AND m.receiver_id = p.owner_id AND NOT m.{read})
                FROM {given}
                CROSS JOIN LATERAL (
                    SELECT * FROM ({newest("p.owner_id", "p.other_id")} UNION ALL
                                   {newest("p.other_id", "p.owner_id")}) both_ways
                    ORDER BY {ts} DESC, id DESC LIMIT 1) last
                ORDER BY p.owner_id, p.other_id
                ON CONFLICT (owner_id, other_id) DO UPDATE SET
                    last_message_id = excluded.last_message_id,
                    last_at = excluded.last_at, unread = excluded.unread""",
            [owners, others],
        )
