"""Issue 27's two bounds that need data to show: `python -m bench.hostile`.

1. Phrase searches over a mailbox of 300,000 messages (the review: 1.24-2.37 s each, with
   no bound): p50/p99 of the search as served (messaging.search, the matching query under
   SEARCH_STATEMENT_TIMEOUT_MS) and how many were answered or stopped.
2. Ten hostile streams that ask for everything (`?since=0`) and never read, against one
   user's log filled with 1,000 events of 120 KB (the review: Redis 214 -> 1,246 MB, the
   stream process +900 MB): Redis's memory and the stream process's before and after.
"""

import socket
import statistics
import time

from bench.common import machine, setup, table

setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from bench.processes import ROOT, _answers, rss_mb, start, stop  # noqa: E402
from core import events  # noqa: E402
from devtools.cluster import free_port  # noqa: E402
from devtools.factories import UserFactory  # noqa: E402
from messaging import search  # noqa: E402

MAILBOX = 300_000
PHRASES = ['"grey heron"', '"heron flies"', '"the grey"']
VOCABULARY = [
    "the",
    "a",
    "grey",
    "heron",
    "flies",
    "over",
    "river",
    "at",
    "dawn",
    "and",
    "dusk",
    "near",
    "old",
    "mill",
    "pond",
]
RUNS = 10


def fill_mailbox(owner, other) -> None:
    with connection.cursor() as cursor:
        cursor.execute(
            f"""INSERT INTO messaging_message
                   (sender_id, receiver_id, content, timestamp, edited, read, attachment)
               SELECT %s, %s,
                      (SELECT string_agg((%s::text[])[1 + (n * 7 + k * 13) %% {len(VOCABULARY)}],
                                         ' ')
                       FROM generate_series(1, 12) AS k),
                      now() - n * interval '1 second', false, true, ''
               FROM generate_series(1, %s) AS n""",
            [other.pk, owner.pk, VOCABULARY, MAILBOX],
        )
        cursor.execute("VACUUM ANALYZE messaging_message")


def phrase_searches(owner) -> list[list]:
    rows = []
    for phrase in PHRASES:
        seconds, stopped = [], 0
        for _ in range(RUNS):
            started = time.perf_counter()
            try:
                list(search.messages_search(owner, phrase)[:20])
            except search.SearchTooBroad:
                stopped += 1
            seconds.append(time.perf_counter() - started)
        seconds.sort()
        rows.append(
            [phrase, f"{statistics.median(seconds) * 1000:.0f}",
             f"{seconds[int(len(seconds) * 0.99) - 1] * 1000:.0f}", RUNS - stopped, stopped]
        )  # fmt: skip
    return rows


def hostile_replays(user) -> list[list]:
    key = Token.objects.create(user=user).key
    big = {"content": "\U0001f600" * 10_000}
    for _ in range(1000):
        events.publish([(user.pk, "message.received", big)])
    client = redis.Redis.from_url(settings.EVENTS_REDIS_URL)
    port = free_port()
    command = ["uvicorn", "config.asgi:application", "--port", str(port)]
    server = start(
        "asgi",
        [str(ROOT / ".venv/bin/python"), "-m", *command],
        lambda: _answers(port),
        EVENTS_MAX_STREAMS_PER_USER="20",
    )
    try:
        before = (client.info("memory")["used_memory"], rss_mb(server.pid))
        hostile = []
        for _ in range(10):
            sock = socket.create_connection(("127.0.0.1", port))
            sock.sendall(
                f"GET /api/v1/events/?since=0 HTTP/1.1\r\nHost: x\r\n"
                f"Authorization: Token {key}\r\n\r\n".encode()
            )
            hostile.append(sock)  # never read
        time.sleep(3)
        after = (client.info("memory")["used_memory"], rss_mb(server.pid))
        log = client.memory_usage(events.log_key(user.pk))
    finally:
        for sock in hostile:
            sock.close()
        stop(server)
    return [
        ["Redis used memory, MB", f"{before[0] / 2**20:.1f}", f"{after[0] / 2**20:.1f}"],
        ["stream process RSS, MB", f"{before[1]:.0f}", f"{after[1]:.0f}"],
        ["the user's log (MEMORY USAGE), MB", f"{log / 2**20:.2f}", f"{log / 2**20:.2f}"],
    ]


def main() -> None:
    owner, other = UserFactory(), UserFactory()
    fill_mailbox(owner, other)
    where = f"{machine()}, {MAILBOX:,} messages in one mailbox"
    table(
        f"Phrase searches, bounded at {settings.SEARCH_STATEMENT_TIMEOUT_MS} ms ({where})",
        ["phrase", "p50 ms", "p99 ms", "answered", "stopped (400)"],
        phrase_searches(owner),
    )
    table(
        f"Ten `?since=0` streams that never read, 1,000 events of 120 KB logged ({machine()})",
        ["measure", "before the streams", "3 s after"],
        hostile_replays(owner),
    )


if __name__ == "__main__":
    main()
