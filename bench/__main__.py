"""The end-to-end benchmark: `python -m bench` (or `make bench`).

Starts gunicorn (a worker per core) and one Celery worker on PostgreSQL and Redis, loads
data, drives load with wrk, and writes the tables into docs/benchmarks.md. BENCH_SECONDS
sets each wrk run (default 10), BENCH_ROUNDS how many times the compared configurations
alternate (default 3; the median is kept), BENCH_LAG_SECONDS the steady-rate phase (60).
"""

import json
import os
import re
import signal
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from bench.common import machine, setup, table

setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from bench.data import load_users, missing_notifications, wait_until_notified  # noqa: E402
from bench.processes import (  # noqa: E402
    LOGS,
    ROOT,
    ROUNDS,
    SECONDS,
    celery_worker,
    gunicorn,
    interleaved,
    stop,
    wrk,
)
from bench.thread import build_thread  # noqa: E402
from devtools.factories import UserFactory  # noqa: E402
from messaging.models import Message  # noqa: E402
from messaging.services import notifications_reconcile  # noqa: E402

LAG_SECONDS = int(os.environ.get("BENCH_LAG_SECONDS", "60"))


def send(url: str, token: str, body: dict) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).read()


def notification_lag(port: int, users, tokens) -> list:
    """Send 100 messages a second for LAG_SECONDS; lag = notification row - message row."""
    start_id = Message.objects.order_by("-id").values_list("id", flat=True).first() or 0
    total, rate = 100 * LAG_SECONDS, 100
    url = f"http://127.0.0.1:{port}/api/v1/messages/"
    began = time.monotonic()
    with ThreadPoolExecutor(max_workers=32) as pool:
        for n in range(total):
            delay = began + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            body = {"receiver": users[(n + 1) % len(users)].pk, "content": f"lag {n}"}
            pool.submit(send, url, tokens[n % len(tokens)], body)
    sending_seconds = time.monotonic() - began
    missing = wait_until_notified(start_id, seconds=120)
    sent = missing_notifications(start_id)[1]
    with connection.cursor() as cursor:
        cursor.execute(
            """SELECT percentile_cont(ARRAY[0.5, 0.99]) WITHIN GROUP (ORDER BY
                   extract(epoch FROM n.created_at - m.timestamp) * 1000), max(
                   extract(epoch FROM n.created_at - m.timestamp) * 1000)
               FROM messaging_message m JOIN messaging_notification n ON n.message_id = m.id
               WHERE m.id > %s""",
            [start_id],
        )
        (p50, p99), worst = cursor.fetchone()
    achieved = sent / sending_seconds
    return [
        f"{sent} messages at 100/s for {LAG_SECONDS}s",
        f"{p50:.1f}",
        f"{p99:.1f}",
        f"{worst:.1f}",
        missing,
        f"{achieved:.0f}",
    ]


def purge(port: int, tokens: list[str]) -> list:
    victim = UserFactory()
    other = UserFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO messaging_message
                   (sender_id, receiver_id, content, timestamp, edited, read, attachment)
               SELECT %s, %s, 'to purge ' || n, now(), false, true, ''
               FROM generate_series(1, 100000) AS n""",
            [victim.pk, other.pk],
        )
    from devtools.factories import PASSWORD

    token = Token.objects.create(user=victim).key
    _, _, before_p99, _ = wrk(port, "inbox.lua", seconds=10, connections=4, TOKENS=",".join(tokens))
    during: dict = {}
    load = threading.Thread(
        target=lambda: during.update(
            zip(
                ("rps", "p50", "p99", "errors"),
                wrk(port, "inbox.lua", seconds=20, connections=4, TOKENS=",".join(tokens)),
                strict=True,
            )
        )
    )
    load.start()
    time.sleep(1)
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/me/",
        data=json.dumps({"password": PASSWORD}).encode(),
        method="DELETE",
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    began = time.monotonic()
    status = urllib.request.urlopen(request, timeout=10).status
    response_ms = (time.monotonic() - began) * 1000
    while type(victim).objects.filter(pk=victim.pk).exists():
        time.sleep(0.2)
        if time.monotonic() - began > 300:
            break
    purge_s = time.monotonic() - began
    load.join()
    left = Message.objects.filter(sender_id=victim.pk).count()
    return [
        status,
        f"{response_ms:.0f}",
        f"{purge_s:.1f}",
        left,
        f"{before_p99:.1f}",
        f"{during['p99']:.1f}",
        f"{during['p99'] / before_p99:.1f}x",
    ]


def thread_page() -> list[list]:
    a, b = UserFactory(), UserFactory()
    leaf = build_thread(a, b)
    client = Client(SERVER_NAME="localhost")
    client.force_login(a)
    token = Token.objects.create(user=a).key
    rows = []
    for label, url, headers in [
        (
            "API /messages/{id}/thread/",
            f"/api/v1/messages/{leaf.pk}/thread/",
            {"HTTP_AUTHORIZATION": f"Token {token}"},
        ),
        ("web /messages/{id}/", f"/messages/{leaf.pk}/", {}),
    ]:
        times = []
        for _ in range(3):
            with CaptureQueriesContext(connection) as queries:
                began = time.perf_counter()
                response = client.get(url, **headers)
                times.append(time.perf_counter() - began)
            assert response.status_code == 200, response.status_code
        rows.append([label, f"{min(times) * 1000:.0f}", len(queries), f"{len(response.content):,}"])
    return rows


def main():
    for url in (settings.REDIS_URL, settings.REDIS_CACHE_URL):
        redis.Redis.from_url(url).flushdb()
    users, tokens = load_users(100, 1000)
    ids = ",".join(str(u.pk) for u in users)
    port = 18000 + os.getpid() % 1000
    sections = [
        f"Machine: {machine()}, PostgreSQL, Redis; gunicorn with "
        f"{os.cpu_count()} sync workers, one Celery worker (a process per core), wrk "
        f"-t2 -c8 for {SECONDS}s per run; compared configurations alternate {ROUNDS} times "
        "and each row is the run of median throughput."
    ]

    worker, web, baseline_web = celery_worker(), None, None
    try:
        # Two servers side by side, the baseline's with the receivers disconnected.
        baseline_web = gunicorn(
            port + 1, "-c", str(ROOT / "bench" / "gunicorn_baseline.py"), name="web-baseline"
        )
        web = gunicorn(port)
        loaded = Message.objects.order_by("-id").values_list("id", flat=True).first()
        send = {"TOKENS": ",".join(tokens), "USERS": ids}

        def baseline(seconds=SECONDS):
            result = wrk(port + 1, "send.lua", seconds=seconds, **send)
            # Its messages got no notification; fill them in as the reconcile job would, so
            # that waiting for the worker to catch up means waiting for the real server's.
            notifications_reconcile()
            return result

        baseline(seconds=3)  # warm up both servers
        wrk(port, "send.lua", seconds=3, **send)
        # The request's own cost: the worker is stopped, so it takes no CPU from the web
        # processes on this small machine (the tasks wait in Redis and run afterwards).
        os.kill(worker.pid, signal.SIGSTOP)
        try:
            paused = interleaved(
                {
                    "baseline": baseline,
                    "on": lambda: wrk(port, "send.lua", **send),
                }
            )
        finally:
            os.kill(worker.pid, signal.SIGCONT)
        wait_until_notified(loaded)
        running = interleaved(
            {
                "baseline": baseline,
                "on": lambda: (wrk(port, "send.lua", **send), wait_until_notified(loaded))[0],
            }
        )
        stop(baseline_web)
        baseline_web = None

        def send_row(label, result, baseline):
            rps, p50, p99, errors = result
            ratio = f"{rps / baseline[0]:.0%}"
            return [label, f"{rps:.0f}", f"{p50:.1f}", f"{p99:.1f}", errors, ratio]

        sections.append(
            table(
                "1. Send throughput, POST /api/v1/messages/",
                ["configuration", "requests/s", "p50 ms", "p99 ms", "non-2xx", "ratio"],
                [
                    send_row(
                        "worker paused: receivers disconnected (baseline)",
                        paused["baseline"],
                        paused["baseline"],
                    ),
                    send_row(
                        "worker paused: everything on (the request's own cost)",
                        paused["on"],
                        paused["baseline"],
                    ),
                    send_row(
                        "worker running: receivers disconnected (baseline)",
                        running["baseline"],
                        running["baseline"],
                    ),
                    send_row(
                        "worker running: everything on, worker on the same cores",
                        running["on"],
                        running["baseline"],
                    ),
                ],
            )
        )
        wait_until_notified(loaded)  # the send test's backlog must not count as lag
        sections.append(
            table(
                "2. Notification lag (commit of the message to its notification row)",
                ["load", "p50 ms", "p99 ms", "max ms", "missing", "achieved msg/s"],
                [notification_lag(port, users, tokens)],
            )
        )
        reads = interleaved(
            {
                "uncached": lambda: wrk(port, "inbox.lua", TOKENS=",".join(tokens), UNCACHED="1"),
                "cached": lambda: wrk(port, "inbox.lua", TOKENS=",".join(tokens)),
            }
        )
        uncached, cached = reads["uncached"], reads["cached"]
        sections.append(
            table(
                "3. Inbox reads, GET /api/v1/messages/, 100 users with 1,000 messages each",
                ["requests", "requests/s", "p50 ms", "p99 ms", "ratio"],
                [
                    [
                        "uncached (a new URL each time)",
                        f"{uncached[0]:.0f}",
                        f"{uncached[1]:.1f}",
                        f"{uncached[2]:.1f}",
                        "1.0x",
                    ],
                    [
                        "cached",
                        f"{cached[0]:.0f}",
                        f"{cached[1]:.1f}",
                        f"{cached[2]:.1f}",
                        f"{cached[0] / uncached[0]:.1f}x",
                    ],
                ],
            )
        )
        sections.append(
            table(
                "4. Account purge of a user with 100,000 messages",
                [
                    "DELETE status",
                    "response ms",
                    "purged after s",
                    "left",
                    "others p99 before ms",
                    "others p99 during ms",
                    "ratio",
                ],
                [purge(port, tokens)],
            )
        )
    finally:
        for process in (baseline_web, web, worker):
            if process is not None:
                stop(process)
    sections.append(
        table(
            "5. Thread of 10,000 messages, depth 1,000 (in-process client, best of 3)",
            ["page", "ms", "queries", "bytes"],
            thread_page(),
        )
    )
    write_report("\n\n".join(sections))


def write_report(text: str) -> None:
    path = ROOT / "docs" / "benchmarks.md"
    start, end = "<!-- bench:run -->", "<!-- /bench:run -->"
    block = f"{start}\n{text}\n{end}"
    current = path.read_text()
    if start in current:
        current = re.sub(
            re.escape(start) + ".*" + re.escape(end), lambda _: block, current, flags=re.S
        )
    else:
        current += f"\n## End to end (`python -m bench`)\n\n{block}\n"
    path.write_text(current)
    print(f"written to {path}; logs in {LOGS}")


if __name__ == "__main__":
    main()
