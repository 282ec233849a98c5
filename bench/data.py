"""Data the benchmarks load: users with tokens and messages, in steady state.

Import after `bench.common.setup()`.
"""

import importlib
import time

from django.db import connection
from rest_framework.authtoken.models import Token

from devtools.factories import UserFactory


def load_users(count: int, messages_each: int) -> tuple[list, list[str]]:
    users = UserFactory.create_batch(count)
    tokens = [Token.objects.create(user=u).key for u in users]
    ids = [u.pk for u in users]
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO messaging_message
                (sender_id, receiver_id, content, timestamp, edited, read, attachment)
            SELECT s.id, r.id, 'hello number ' || n, now() - n * interval '1 minute',
                   false, n %% 3 = 0, ''
            FROM unnest(%s::bigint[]) WITH ORDINALITY AS r(id, k)
            JOIN unnest(%s::bigint[]) WITH ORDINALITY AS s(id, j) ON j = k %% %s + 1
            CROSS JOIN generate_series(1, %s) AS n
            """,
            [ids, ids, count, messages_each],
        )
        cursor.execute(
            """INSERT INTO messaging_notification (user_id, message_id, created_at, read)
               SELECT receiver_id, id, timestamp, read FROM messaging_message"""
        )
        rebuild_conversations(cursor)
        # A database in steady state: hint bits set and visibility map built, as autovacuum
        # would have left them (the first reads after a bulk load otherwise write pages).
        cursor.execute("VACUUM ANALYZE messaging_message")
        cursor.execute("VACUUM ANALYZE messaging_notification")
    return users, tokens


def rebuild_conversations(cursor) -> None:
    """The conversations list of messages loaded with SQL, built as the migration builds it."""
    cursor.execute("TRUNCATE messaging_conversation")
    cursor.execute(importlib.import_module("messaging.migrations.0007_conversations").BACKFILL)
    cursor.execute("VACUUM ANALYZE messaging_conversation")


def missing_notifications(after_id: int = 0) -> tuple[int, int]:
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT count(*) FILTER (WHERE n.id IS NULL), count(*)
               FROM messaging_message m LEFT JOIN messaging_notification n
               ON n.message_id = m.id WHERE m.id > %s""",
            [after_id],
        )
        return cursor.fetchone()


def wait_until_notified(after_id: int = 0, seconds: float = 300) -> int:
    """Poll until every message after `after_id` has its notification; returns missing."""
    deadline = time.monotonic() + seconds
    while (missing := missing_notifications(after_id)[0]) and time.monotonic() < deadline:
        time.sleep(0.5)
    return missing
