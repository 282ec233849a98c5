"""Search over a million messages: `python -m bench.search` (issue 18; docs/benchmarks.md).

1,000,000 messages among 10,000 users, 5 to 24 words each drawn from 20,000 made-up words
with a Zipf distribution (word k is drawn with probability about 1/(k ln N)); 5 users have
50,000 messages each. For one of them: p50/p99 of GET /api/v1/messages/?q= (in-process,
the whole request: the token, the count, the page with its ranks and highlights) for a rare
word, the most common word, a phrase, and the common word newest first; each query's plan
(EXPLAIN ANALYZE); the size of the document column and of its index; and send throughput
(gunicorn, wrk, worker stopped) with search (column and index) and without, alternated.
"""

import argparse
import random
import statistics
import time

from bench.common import machine, setup, table

setup()

from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from bench.processes import gunicorn, interleaved, stop, wrk  # noqa: E402
from messaging import search  # noqa: E402

PORT = 8312
WORDS = 20_000
HEAVY_USERS, HEAVY_MESSAGES = 5, 50_000
SYLLABLES = [c + v for c in "bcdfghklmnprstvz" for v in "aeiou"] + ["an", "el", "or", "us"]


def word_list(count: int) -> list[str]:
    rng = random.Random(18)
    words: set[str] = set()
    while len(words) < count:
        words.add("".join(rng.choice(SYLLABLES) for _ in range(rng.randint(2, 4))))
    return sorted(words, key=lambda word: (len(word), word))  # short words are the common ones


def load(messages: int, words: list[str]) -> list[int]:
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS msg_search")  # built once, after the load
        cursor.execute(
            """INSERT INTO auth_user (username, password, is_superuser, is_staff, is_active,
                   first_name, last_name, email, date_joined)
               SELECT 'searcher' || n, '!', false, false, true, '', '', '', now()
               FROM generate_series(1, 10000) AS n RETURNING id"""
        )
        users = sorted(row[0] for row in cursor.fetchall())
        heavy = min(HEAVY_USERS * HEAVY_MESSAGES, messages // 2)
        cursor.execute(
            """
            INSERT INTO messaging_message
                (sender_id, receiver_id, content, timestamp, edited, read, attachment)
            SELECT CASE WHEN n %% %(every)s = 0 AND n / %(every)s %% 2 = 0 THEN u[1 + n / %(every)s / 2 %% %(heavy_users)s]
                        ELSE u[1 + %(heavy_users)s + (n * 7919) %% (cardinality(u) - %(heavy_users)s)] END,
                   CASE WHEN n %% %(every)s = 0 AND n / %(every)s %% 2 = 1 THEN u[1 + n / %(every)s / 2 %% %(heavy_users)s]
                        ELSE u[1 + %(heavy_users)s + (n * 104729 + 1) %% (cardinality(u) - %(heavy_users)s)] END,
                   array_to_string(ARRAY(
                       SELECT w[floor(exp(random() * ln(cardinality(w))))::int]
                       FROM generate_series(1, 5 + n %% 20)), ' '),
                   now() - n * interval '30 seconds', false, true, ''
            FROM generate_series(1, %(messages)s::bigint) AS n,
                 (SELECT %(users)s::bigint[] AS u, %(words)s::text[] AS w) AS lists
            """,  # noqa: E501
            {
                # The heavy users' messages are spread over the whole period.
                "every": messages // heavy,
                "heavy_users": HEAVY_USERS,
                "messages": messages,
                "users": users,
                "words": words,
            },
        )
        cursor.execute(
            "CREATE INDEX msg_search ON messaging_message"
            " USING gin (receiver_id, sender_id, search_vector)"
        )
        cursor.execute("VACUUM ANALYZE messaging_message")
        cursor.execute("CHECKPOINT")  # the load's writes flushed before anything is timed
    return users


def timings(client: Client, params: dict, runs: int) -> list[float]:
    result = []
    for _ in range(runs):
        start = time.perf_counter()
        response = client.get("/api/v1/messages/", params)
        result.append((time.perf_counter() - start) * 1000)
        assert response.status_code == 200, response.content
    return result


def plan(user, q: str, ordering: str) -> str:
    """The plans of the search's two queries: its newest matches, then the page of them."""
    explained = []
    matches = search.newest_matches_sql(user, q, box=None, unread=False)
    page = search.messages_search(user, q, ordering=ordering)[:20].query.sql_with_params()
    for sql, params in (matches, page):
        with connection.cursor() as cursor:
            cursor.execute("EXPLAIN (ANALYZE, COSTS OFF, TIMING ON, SUMMARY ON) " + sql, params)
            explained.append("\n".join(row[0] for row in cursor.fetchall()))
    return "\n\n".join(explained)


def sizes() -> list[list]:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT pg_relation_size('msg_search'),"
            " avg(pg_column_size(search_vector)),"
            " pg_relation_size('messaging_message'), count(*) FROM messaging_message"
        )
        index, column, table_size, rows = cursor.fetchone()
    mib = 2**20
    return [
        ["GIN index msg_search", f"{index / mib:,.0f} MiB", f"{index / rows:.1f}"],
        ["search_vector column", f"{column * rows / mib:,.0f} MiB", f"{column:.1f}"],
        ["message table", f"{table_size / mib:,.0f} MiB", f"{table_size / rows:.1f}"],
    ]


def with_search(enabled: bool) -> None:
    from django.conf import settings

    with connection.cursor() as cursor:
        present = search.document_config(cursor) is not None
        if enabled and not present:
            search.add_document_column(cursor, settings.SEARCH_CONFIG)
            cursor.execute("VACUUM ANALYZE messaging_message")
        elif not enabled and present:
            search.drop_document_column(cursor)


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--messages", type=int, default=1_000_000)
    parser.add_argument("--runs", type=int, default=200)
    options = parser.parse_args()
    words = word_list(WORDS)
    start = time.perf_counter()
    users = load(options.messages, words)
    print(f"{options.messages:,} messages loaded in {time.perf_counter() - start:.0f} s")
    from django.contrib.auth import get_user_model

    heavy = get_user_model().objects.get(pk=users[0])
    token = Token.objects.create(user=heavy).key
    client = Client(HTTP_HOST="127.0.0.1", HTTP_AUTHORIZATION=f"Token {token}")
    queries = {
        "rare word": ({"q": words[5000]}, "rank"),
        "most common word": ({"q": words[0]}, "rank"),
        "phrase of two common words": ({"q": f'"{words[0]} {words[1]}"'}, "rank"),
        "most common word, newest first": ({"q": words[0], "ordering": "-timestamp"}, "-timestamp"),
    }
    rows, plans = [], []
    for name, (params, ordering) in queries.items():
        matches = search.messages_search(heavy, params["q"]).count()
        timings(client, params, 10)  # warm
        measured = sorted(timings(client, params, options.runs))
        p99 = measured[int(len(measured) * 0.99) - 1]
        p50 = statistics.median(measured)
        rows.append([name, params["q"], f"{matches:,}", f"{p50:.1f}", f"{p99:.1f}"])
        explained = plan(heavy, params["q"], ordering)
        plans.append(f"#### {name}: q={params['q']}\n\n```\n{explained}\n```")
    table(
        f"Search as a user with {HEAVY_MESSAGES:,} messages, {options.messages:,} in all "
        f"({machine()}; GET /api/v1/messages/?q=, in-process, {options.runs} runs each, ms)",
        ["query", "q", "matches (ranked: the newest 1,000)", "p50", "p99"],
        rows,
    )
    table("Sizes", ["what", "size", "bytes per message"], sizes())
    print("\n\n".join(plans) + "\n")

    tokens = ",".join(Token.objects.create(user_id=u).key for u in users[10:60])
    receivers = ",".join(str(u) for u in users[60:110])
    web = gunicorn(PORT)
    try:
        runs = {
            "with search (generated column and GIN index)": lambda: (
                with_search(True) or wrk(PORT, "send.lua", TOKENS=tokens, USERS=receivers)
            ),
            "without search (no column, no index)": lambda: (
                with_search(False) or wrk(PORT, "send.lua", TOKENS=tokens, USERS=receivers)
            ),
        }
        results = interleaved(runs, rounds=2)
    finally:
        stop(web)
        with_search(True)
    base = results["without search (no column, no index)"][0]
    table(
        "Send throughput, POST /api/v1/messages/ (gunicorn 2 sync workers, wrk -c8, worker "
        "stopped), alternated twice, run of median throughput kept",
        ["configuration", "requests/s", "p50 ms", "p99 ms", "non-2xx", "ratio"],
        [
            [name, f"{rps:.0f}", f"{p50:.1f}", f"{p99:.1f}", errors, f"{rps / base:.2f}"]
            for name, (rps, p50, p99, errors) in results.items()
        ],
    )


if __name__ == "__main__":
    main()
