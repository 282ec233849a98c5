"""A conversation of 10,000 messages as a chat: `python -m bench.chat_parts` (issue 26).

Two people with 10,000 messages between them (one in fifty a reply, the last 30 unread),
among 200,000 messages of 2,000 other people. In-process, the whole request through Django's
test client: the conversation's page (its newest part of 200, the divider, the composer)
and an older part of 200 as the page's script asks for it (?before=, rows alone), from
anchors spread over the conversation. p50/p99 against the issue's goals (50 and 20 ms),
bytes as sent and gzipped, and queries.
"""

import gzip
import random
import statistics
import time

from bench.common import count_queries, machine, setup, table

setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from bench.data import rebuild_conversations  # noqa: E402
from devtools.factories import UserFactory  # noqa: E402
from messaging.models import Message  # noqa: E402

MESSAGES, OTHERS, OTHER_MESSAGES = 10_000, 2_000, 200_000
REQUESTS = 300
FIRST_PART_GOAL_MS, OLDER_PART_GOAL_MS = 50, 20


def load(a: int, b: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO auth_user (username, password, is_superuser, is_staff, is_active,
                   first_name, last_name, email, date_joined)
               SELECT 'someone' || n, '!', false, false, true, '', '', '', now()
               FROM generate_series(1, %s) AS n RETURNING id""",
            [OTHERS],
        )
        others = [row[0] for row in cursor.fetchall()]
        cursor.execute(
            """INSERT INTO messaging_message
                   (sender_id, receiver_id, content, timestamp, edited, read, attachment)
               SELECT CASE WHEN n %% 3 = 0 THEN %(a)s ELSE %(b)s END,
                      CASE WHEN n %% 3 = 0 THEN %(b)s ELSE %(a)s END,
                      'line ' || n || ' of a long chat about the trip, the train and lunch',
                      now() - (%(n)s - n) * interval '20 seconds', false,
                      n <= %(n)s - 30, ''
               FROM generate_series(1, %(n)s) AS n""",
            {"a": a, "b": b, "n": MESSAGES},
        )
        # One in fifty replies to a message a little earlier.
        cursor.execute(
            """UPDATE messaging_message m SET parent_message_id = p.id
               FROM messaging_message p
               WHERE m.id %% 50 = 0 AND p.id = m.id - 7
               AND m.sender_id IN (%(a)s, %(b)s) AND p.sender_id IN (%(a)s, %(b)s)""",
            {"a": a, "b": b},
        )
        cursor.execute(
            """INSERT INTO messaging_message
                   (sender_id, receiver_id, content, timestamp, edited, read, attachment)
               SELECT u[1 + n %% %(k)s], u[1 + (n * 7 + 3) %% %(k)s], 'elsewhere ' || n,
                      now() - n * interval '1 second', false, true, ''
               FROM generate_series(1, %(m)s) AS n, (SELECT %(u)s::bigint[] AS u) l
               WHERE n %% %(k)s <> (n * 7 + 3) %% %(k)s""",
            {"k": OTHERS, "m": OTHER_MESSAGES, "u": others},
        )
        cursor.execute("VACUUM ANALYZE messaging_message")
        rebuild_conversations(cursor)


def measure(client: Client, urls: list[str], **headers) -> tuple[list[float], list[int], list[int]]:
    times, sizes, zipped = [], [], []
    for url in urls:
        start = time.perf_counter()
        response = client.get(url, **headers)
        times.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, (url, response.status_code)
        sizes.append(len(response.content))
        zipped.append(len(gzip.compress(response.content)))
    return times, sizes, zipped


def p99(values: list[float]) -> float:
    return statistics.quantiles(values, n=100)[98]


def main():
    me, other = UserFactory(username="reader"), UserFactory(username="writer")
    load(me.pk, other.pk)
    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(me)
    page = f"/people/{other.pk}/"
    ids = list(
        Message.objects.between(me, other).order_by("timestamp").values_list("id", flat=True)
    )
    assert len(ids) == MESSAGES
    random.seed(26)
    anchors = [random.choice(ids[200:]) for _ in range(REQUESTS)]
    measure(client, [page] * 20)  # warm the connection and the caches of the database
    first = measure(client, [page] * REQUESTS)
    older = measure(client, [f"{page}?before={a}" for a in anchors], HTTP_X_REQUESTED_WITH="fetch")
    rows = []
    for name, (times, sizes, zipped), goal, url, headers in [
        ("first part (the page)", first, FIRST_PART_GOAL_MS, page, {}),
        (
            "an older part (rows)",
            older,
            OLDER_PART_GOAL_MS,
            f"{page}?before={anchors[0]}",
            {"HTTP_X_REQUESTED_WITH": "fetch"},
        ),
    ]:
        rows.append(
            [
                name,
                f"{statistics.median(times):.1f}",
                f"{p99(times):.1f}",
                f"{goal}",
                f"{p99(times) / goal:.2f}x",
                f"{statistics.median(sizes):,.0f}",
                f"{statistics.median(zipped):,.0f}",
                count_queries(lambda url=url, headers=headers: client.get(url, **headers)),
            ]
        )
    table(
        f"A conversation of {MESSAGES:,} messages among {OTHER_MESSAGES:,} others, 200 a part,"
        f" {REQUESTS} requests each, in-process ({machine()})",
        ["request", "p50 ms", "p99 ms", "goal p99", "p99/goal", "bytes", "gzipped", "queries"],
        rows,
    )


if __name__ == "__main__":
    main()
