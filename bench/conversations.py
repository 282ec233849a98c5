"""Conversations first: `python -m bench.conversations` (issue 19; docs/benchmarks.md).

One user with 100,000 messages (half sent, half received, one received in twenty unread)
across 2,000 correspondents, who also write to each other (100,000 more messages). For the
first page of the conversations (GET /api/v1/conversations/ and the inbox page /) and of
today's received list (GET /api/v1/messages/ and /received/): p50/p99 of the whole request
in-process, the per-user cache emptied before each, and its queries. Then the design not
chosen, the list computed at read time (DISTINCT ON over the index on the pair), and what
keeping the list costs a send (in-process sends with the upsert and without, alternated).
"""

import argparse
import statistics
import time

from bench.common import machine, setup, table

setup()

from django.core.cache import cache  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from bench.data import rebuild_conversations  # noqa: E402
from messaging import conversations, services  # noqa: E402

CORRESPONDENTS = 2_000


def load(messages: int) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO auth_user (username, password, is_superuser, is_staff, is_active,
                   first_name, last_name, email, date_joined)
               SELECT 'talker' || n, '!', false, false, true, '', '', '', now()
               FROM generate_series(0, %s) AS n RETURNING id""",
            [CORRESPONDENTS],
        )
        users = sorted(row[0] for row in cursor.fetchall())
        cursor.execute(
            """
            INSERT INTO messaging_message
                (sender_id, receiver_id, content, timestamp, edited, read, attachment)
            SELECT CASE WHEN n %% 2 = 0 THEN u[1] ELSE u[2 + (n * 7919) %% %(others)s] END,
                   CASE WHEN n %% 2 = 0 THEN u[2 + (n * 7919) %% %(others)s] ELSE u[1] END,
                   'message number ' || n || ' about the week ahead',
                   now() - n * interval '1 minute', false, n %% 40 <> 1, ''
            FROM generate_series(1, %(messages)s) AS n, (SELECT %(users)s::bigint[] AS u) l
            UNION ALL
            SELECT u[2 + n %% %(others)s], u[2 + (n * 31 + 7) %% %(others)s],
                   'between two others ' || n, now() - n * interval '1 minute', false, true, ''
            FROM generate_series(1, %(messages)s) AS n, (SELECT %(users)s::bigint[] AS u) l
            WHERE n %% %(others)s <> (n * 31 + 7) %% %(others)s
            """,
            {"messages": messages, "others": CORRESPONDENTS, "users": users},
        )
        cursor.execute("VACUUM ANALYZE messaging_message")
        rebuild_conversations(cursor)
        cursor.execute("CHECKPOINT")
    return users


def timed(client: Client, path: str, runs: int) -> tuple[list[float], int]:
    """Milliseconds of each run, the cache emptied before each; and the queries of one."""
    result = []
    for _ in range(runs):
        cache.clear()
        start = time.perf_counter()
        response = client.get(path)
        result.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.content[:300]
    cache.clear()
    with CaptureQueriesContext(connection) as queries:
        client.get(path)
    return result, len(queries)


def percentiles(ms: list[float]) -> tuple[float, float]:
    ms = sorted(ms)
    return statistics.median(ms), ms[max(0, int(len(ms) * 0.99) - 1)]


READ_TIME_LIST = """
    SELECT other, id, "timestamp" FROM (
        SELECT DISTINCT ON (other) other, id, "timestamp" FROM (
            SELECT receiver_id AS other, id, "timestamp" FROM messaging_message
            WHERE sender_id = %s
            UNION ALL
            SELECT sender_id, id, "timestamp" FROM messaging_message WHERE receiver_id = %s
        ) mine ORDER BY other, "timestamp" DESC, id DESC
    ) last ORDER BY "timestamp" DESC, id DESC LIMIT 20"""


def read_time_list(user_id: int, runs: int) -> list[float]:
    result = []
    with connection.cursor() as cursor:
        for _ in range(runs):
            start = time.perf_counter()
            cursor.execute(READ_TIME_LIST, [user_id, user_id])
            cursor.fetchall()
            result.append((time.perf_counter() - start) * 1000)
    return result


def send_cost(users: list[int], sends: int, rounds: int) -> dict[str, list[float]]:
    """ms a send (in-process, autocommit), with the list kept and with its upsert off."""
    from django.contrib.auth import get_user_model

    # Pairs spread over the 2,000 correspondents, as real traffic spreads them.
    people = list(get_user_model().objects.filter(pk__in=users[1:]))
    kept = conversations.message_added_sql
    per_send: dict[str, list[float]] = {"list kept": [], "upsert off": []}
    for _ in range(rounds):
        for name in per_send:
            # Off: the send's statement writes no conversation rows.
            off = lambda source: "SELECT 1"  # noqa: E731
            conversations.message_added_sql = kept if name == "list kept" else off
            start = time.perf_counter()
            for n in range(sends):
                # 7n and 13n + 1 differ mod 2,000 (an even and an odd): never oneself.
                sender, receiver = people[n * 7 % 2000], people[(n * 13 + 1) % 2000]
                services.message_send(sender=sender, receiver=receiver, content=f"bench {n}")
            per_send[name].append((time.perf_counter() - start) * 1000 / sends)
    conversations.message_added_sql = kept
    return per_send


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=100_000)
    parser.add_argument("--runs", type=int, default=300)
    options = parser.parse_args()
    start = time.perf_counter()
    users = load(options.messages)
    print(f"{options.messages * 2:,} messages loaded in {time.perf_counter() - start:.0f} s")
    token = Token.objects.create(user_id=users[0]).key
    api = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token}")
    web = Client(HTTP_HOST="127.0.0.1")
    web.force_login(Token.objects.get(key=token).user)
    pages = [  # each kind's received list first: the baseline
        ("received messages, API (today's list)", api, "/api/v1/messages/"),
        ("conversations, API", api, "/api/v1/conversations/"),
        ("received messages, page /received/ (today's list)", web, "/received/"),
        ("conversations, inbox page /", web, "/"),
    ]
    rows, base = [], {}
    for name, client, path in pages:
        timed(client, path, 20)  # warm
        ms, queries = timed(client, path, options.runs)
        p50, p99 = percentiles(ms)
        kind = "API" if "API" in name else "page"
        base.setdefault(kind, p99)
        rows.append([name, f"{p50:.1f}", f"{p99:.1f}", queries, f"{p99 / base[kind]:.2f}"])
    rows.append(["", "", "", "", ""])
    read_time_list(users[0], 5)
    p50, p99 = percentiles(read_time_list(users[0], 50))
    rows.append(
        [
            "not chosen: the list at read time (DISTINCT ON, 20 rows, SQL alone)",
            f"{p50:.1f}",
            f"{p99:.1f}",
            1,
            "",
        ]
    )
    table(
        f"First page for a user with {options.messages:,} messages across {CORRESPONDENTS:,} "
        f"correspondents ({machine()}; in-process, cache emptied before each of "
        f"{options.runs} runs; ms; ratio: p99 against today's received list of the same kind)",
        ["list", "p50", "p99", "queries", "p99 ratio"],
        rows,
    )
    per_send = send_cost(users, sends=500, rounds=3)
    kept, off = (statistics.median(per_send[k]) for k in ("list kept", "upsert off"))
    table(
        "Cost of keeping the list on a send (services.message_send in-process, autocommit, "
        "500 sends a round, 3 rounds alternated, median round; ms a send)",
        ["configuration", "ms a send", "ratio"],
        [
            ["list kept (the upsert)", f"{kept:.2f}", f"{kept / off:.2f}"],
            ["upsert off", f"{off:.2f}", "1.00"],
        ],
    )


if __name__ == "__main__":
    main()
