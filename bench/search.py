"""Search over a million messages: `python -m bench.search` (issues 18 and 30;
docs/benchmarks.md).

1,000,000 messages among 10,000 users, 5 to 24 words each drawn from 20,000 made-up words
with a Zipf distribution (word k is drawn with probability about 1/(k ln N)); 5 users have
50,000 messages each, and one of them has "Réunion", "会議室" and "🎉" in some. For that
one: p50/p99 of GET /api/v1/messages/?q= over HTTP (this process a client of gunicorn: the
token, the count, the page with its ranks and highlights) for each kind of query (a rare
word, the most common, a prefix, accents left out, a phrase of about 2,000 matches,
Japanese and emoji as substrings, filters, newest first); the substring searches again with
a trigram index; each query's plan (EXPLAIN ANALYZE); sizes; and send throughput (gunicorn,
wrk, worker stopped) with the documents before issue 30, with its unaccent, and with a
trigram index too, alternated.
"""

import argparse
import http.client
import random
import statistics
import time
import urllib.parse
from datetime import timedelta

from bench.common import machine, setup, table

setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402
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


def timings(base: str, token: str, params: dict, runs: int) -> list[float]:
    """GET /api/v1/messages/?q= over HTTP, from this process to gunicorn (one kept-alive
    connection), `runs` times; each request's time in ms."""
    connection_ = http.client.HTTPConnection(*base.split(":"))
    path = "/api/v1/messages/?" + urllib.parse.urlencode(params)
    headers = {"Authorization": f"Token {token}", "Host": "127.0.0.1"}
    result = []
    try:
        for _ in range(runs):
            start = time.perf_counter()
            connection_.request("GET", path, headers=headers)
            response = connection_.getresponse()
            body = response.read()
            result.append((time.perf_counter() - start) * 1000)
            assert response.status == 200, body[:300]
    finally:
        connection_.close()
    return result


def seed_other_scripts(user_id: int) -> None:
    """Words the made-up vocabulary lacks, in some of the heavy user's messages: an accented
    one (found without its accents), a Japanese one and an emoji (found as substrings)."""
    with connection.cursor() as cursor:
        for text, every in (("Réunion", 50), ("会議室", 100), ("🎉", 100)):
            cursor.execute(
                f"""UPDATE messaging_message SET content = content || ' ' || %s
                    WHERE id IN (SELECT id FROM messaging_message
                                 WHERE receiver_id = %s OR sender_id = %s ORDER BY id)
                      AND id %% {every} = 0""",
                [text, user_id, user_id],
            )
        cursor.execute("VACUUM ANALYZE messaging_message")


def phrase_near(user, words: list[str], goal: int = 2000) -> str:
    """A phrase of two common words with about `goal` matches for the user."""
    best, limit = None, settings.SEARCH_MAX_RESULTS
    settings.SEARCH_MAX_RESULTS = 100_000  # every match counted, not the newest 1,000
    try:
        for first in words[:6]:
            for second in words[:6]:
                if first == second:
                    continue
                q = f'"{first} {second}"'
                sql, params = search.newest_matches_sql(user, q, box=None, unread=False)
                with connection.cursor() as cursor:
                    cursor.execute(f"SELECT count(*) FROM ({sql}) AS found", params)
                    (count,) = cursor.fetchone()
                if best is None or abs(count - goal) < abs(best[1] - goal):
                    best = (q, count)
    finally:
        settings.SEARCH_MAX_RESULTS = limit
    return best[0]


def plan(user, q: str, ordering: str) -> str:
    """The plans of the search's two queries: its newest matches (ranked, when the order is
    the rank), then the page of them."""
    explained = []
    ranked = ordering == "rank"
    matches = search.newest_matches_sql(user, q, box=None, unread=False, ranked=ranked)
    results = search.messages_search(user, q, ordering=ordering)
    page = results.rows.filter(pk__in=results.ids[:20]).query.sql_with_params()
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


def search_setup(name: str) -> None:
    """The message table as configuration `name` has it: "folded" (this issue's documents,
    unaccent first), "plain" (the documents before it), "folded + trigram" (and a trigram
    index on the content, for substrings)."""
    with connection.cursor() as cursor:
        cursor.execute("DROP INDEX IF EXISTS msg_trgm")
        current = search.document_config(cursor)
        if name == "plain" and current != settings.SEARCH_CONFIG:
            search.drop_document_column(cursor)
            cursor.execute(
                "ALTER TABLE messaging_message ADD COLUMN search_vector tsvector GENERATED"
                " ALWAYS AS (to_tsvector(%s::regconfig, content)) STORED",
                [settings.SEARCH_CONFIG],
            )
            cursor.execute(
                "CREATE INDEX msg_search ON messaging_message"
                " USING gin (receiver_id, sender_id, search_vector)"
            )
        elif name != "plain" and not search.document_is_current(cursor):
            search.drop_document_column(cursor)
            search.add_document_column(cursor, settings.SEARCH_CONFIG)
        if name == "folded + trigram":
            cursor.execute("CREATE EXTENSION IF NOT EXISTS pg_trgm")
            cursor.execute(
                "CREATE INDEX msg_trgm ON messaging_message"
                " USING gin (receiver_id, sender_id, content gin_trgm_ops)"
            )
        cursor.execute("VACUUM ANALYZE messaging_message")


def measure(base, token, heavy, queries, runs) -> tuple[list[list], list[str]]:
    rows, plans = [], []
    for name, (params, ordering) in queries.items():
        matches = search.messages_search(heavy, params["q"]).count()
        timings(base, token, params, 10)  # warm
        measured = sorted(timings(base, token, params, runs))
        p99 = measured[int(len(measured) * 0.99) - 1]
        p50 = statistics.median(measured)
        rows.append(
            [name, params["q"], f"{matches:,}", f"{p50:.1f}", f"{p99:.1f}", f"{p99 / 50:.2f}x"]
        )
        explained = plan(heavy, params["q"], ordering)
        plans.append(f"#### {name}: q={params['q']}\n\n```\n{explained}\n```")
    return rows, plans


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
    search_setup("folded")  # the documents as the code makes them now, whatever migrated
    seed_other_scripts(heavy.pk)
    token = Token.objects.create(user=heavy).key
    month_ago = (timezone.now() - timedelta(days=30)).date().isoformat()
    queries = {
        "rare word": ({"q": words[5000] + " "}, "rank"),
        "most common word": ({"q": words[0] + " "}, "rank"),
        "a word as typed (prefix)": ({"q": words[0][:3]}, "rank"),
        "accents left out": ({"q": "reunion "}, "rank"),
        "phrase of about 2,000 matches": ({"q": phrase_near(heavy, words)}, "rank"),
        "Japanese (substring)": ({"q": "会議室"}, "rank"),
        "emoji (substring)": ({"q": "🎉"}, "rank"),
        "common word, after: a date": ({"q": f"{words[0]} after:{month_ago}"}, "rank"),
        "a filter alone (from:)": ({"q": f"from:{heavy.username}"}, "-timestamp"),
        "most common word, newest first": (
            {"q": words[0] + " ", "ordering": "-timestamp"},
            "-timestamp",
        ),
    }
    web = gunicorn(PORT)
    try:
        rows, plans = measure(f"127.0.0.1:{PORT}", token, heavy, queries, options.runs)
        search_setup("folded + trigram")
        substrings = {k: v for k, v in queries.items() if "substring" in k}
        trigram_rows, _ = measure(f"127.0.0.1:{PORT}", token, heavy, substrings, options.runs)
        search_setup("folded")
    finally:
        stop(web)
    header = ["query", "q", "matches (ranked: the newest 1,000)", "p50", "p99", "p99/50 ms"]
    table(
        f"Search as a user with {HEAVY_MESSAGES:,} messages, {options.messages:,} in all "
        f"({machine()}; GET /api/v1/messages/?q= over HTTP to gunicorn, {options.runs} runs "
        "each, ms)",
        header,
        rows,
    )
    table(
        "The substring searches with a trigram index on the content (gin_trgm_ops), ms",
        header,
        trigram_rows,
    )
    table("Sizes", ["what", "size", "bytes per message"], sizes())
    print("\n\n".join(plans) + "\n")

    tokens = ",".join(Token.objects.create(user_id=u).key for u in users[10:60])
    receivers = ",".join(str(u) for u in users[60:110])
    web = gunicorn(PORT)
    configurations = ["plain", "folded", "folded + trigram"]
    try:
        runs = {
            name: (
                lambda name=name: (
                    search_setup(name) or wrk(PORT, "send.lua", TOKENS=tokens, USERS=receivers)
                )
            )
            for name in configurations
        }
        results = interleaved(runs, rounds=2)
    finally:
        stop(web)
        search_setup("folded")
    base = results["plain"][0]
    table(
        "Send throughput, POST /api/v1/messages/ (gunicorn, wrk -c8, worker stopped), "
        "alternated twice, run of median throughput kept; plain: the documents before this "
        "issue (no unaccent)",
        ["configuration", "requests/s", "p50 ms", "p99 ms", "non-2xx", "ratio"],
        [
            [name, f"{rps:.0f}", f"{p50:.1f}", f"{p99:.1f}", errors, f"{rps / base:.2f}"]
            for name, (rps, p50, p99, errors) in results.items()
        ],
    )


if __name__ == "__main__":
    main()
