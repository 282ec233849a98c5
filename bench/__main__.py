"""The end-to-end benchmark: `python -m bench` (or `make bench`).

Starts gunicorn (a worker per core) and one Celery worker on PostgreSQL and Redis, loads
data, drives load with wrk, and writes the tables into docs/benchmarks.md. BENCH_SECONDS
sets each wrk run (default 15), BENCH_LAG_SECONDS the steady-rate phase (default 60).
"""

import json
import os
import re
import signal
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from bench.common import machine, setup, table

setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from bench.thread import build_thread  # noqa: E402
from messaging.models import Message  # noqa: E402
from tests.factories import UserFactory  # noqa: E402

ROOT = Path(__file__).resolve().parent.parent
SECONDS = int(os.environ.get("BENCH_SECONDS", "15"))
LAG_SECONDS = int(os.environ.get("BENCH_LAG_SECONDS", "60"))
LOGS = Path(tempfile.mkdtemp(prefix="bench-"))


def env(**extra) -> dict:
    db = settings.DATABASES["default"]
    return {
        **os.environ,
        "DATABASE_URL": f"postgres://{db['USER']}@{db['HOST']}:{db['PORT'] or 5432}/{db['NAME']}",
        "REDIS_URL": settings.REDIS_URL,
        "REDIS_CACHE_URL": settings.REDIS_CACHE_URL,
        "SECRET_KEY": "bench-only",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        "LOG_LEVEL": "WARNING",
        "THROTTLE_AUTH_RATE": "1000000/min",
        **extra,
    }


def start(name: str, command: list[str], ready, **extra) -> subprocess.Popen:
    log = (LOGS / f"{name}.log").open("wb")
    process = subprocess.Popen(command, cwd=ROOT, env=env(**extra), stdout=log, stderr=log)
    deadline = time.monotonic() + 60
    while not ready():
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{name} did not start; see {LOGS / name}.log")
        time.sleep(0.2)
    return process


def gunicorn(port: int, *extra_args: str) -> subprocess.Popen:
    command = [
        sys.executable,
        "-m",
        "gunicorn",
        "config.wsgi:application",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(os.cpu_count() or 2),
        *extra_args,
    ]
    return start("web", command, lambda: _answers(port))


def _answers(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=1)
        return True
    except (urllib.error.URLError, OSError):
        return False


def celery_worker() -> subprocess.Popen:
    log = LOGS / "worker.log"
    command = [
        sys.executable,
        "-m",
        "celery",
        "-A",
        "celery_app",
        "worker",
        "-Q",
        "default,maintenance",
        "--concurrency",
        str(os.cpu_count() or 2),
        "--loglevel",
        "INFO",
        "--without-mingle",
        "--without-gossip",
    ]
    return start("worker", command, lambda: log.exists() and b" ready." in log.read_bytes())


def stop(process: subprocess.Popen) -> None:
    process.terminate()
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        process.kill()


def wrk(port: int, script: str, *, seconds: int = SECONDS, connections: int = 8, **lua_env):
    """Run wrk; returns (requests/s, p50 ms, p99 ms, non-2xx responses)."""
    result = subprocess.run(
        [
            "wrk",
            "-t2",
            f"-c{connections}",
            f"-d{seconds}s",
            "--latency",
            "-s",
            str(ROOT / "bench" / "wrk" / script),
            f"http://127.0.0.1:{port}",
        ],
        env={**os.environ, **lua_env},
        capture_output=True,
        text=True,
        check=True,
    )
    out = result.stdout
    rps = float(re.search(r"Requests/sec:\s+([\d.]+)", out).group(1))
    errors = re.search(r"Non-2xx or 3xx responses: (\d+)", out)
    return rps, _latency(out, "50%"), _latency(out, "99%"), int(errors.group(1)) if errors else 0


def _latency(out: str, percentile: str) -> float:
    value, unit = re.search(rf"{percentile}\s+([\d.]+)(us|ms|s)", out).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


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
        cursor.execute("ANALYZE messaging_message")
    return users, tokens


def send(url: str, token: str, body: dict) -> None:
    request = urllib.request.Request(
        url,
        data=json.dumps(body).encode(),
        method="POST",
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).read()


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
    from tests.factories import PASSWORD

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
        f"-t2 -c8 for {SECONDS}s per row."
    ]

    worker, web = celery_worker(), None
    try:
        web = gunicorn(port, "-c", str(ROOT / "bench" / "gunicorn_baseline.py"))
        baseline = wrk(port, "send.lua", TOKENS=",".join(tokens), USERS=ids)
        stop(web)  # after its last request has committed
        # Messages so far (the loaded inboxes, the baseline's) have no notification by design.
        loaded = Message.objects.order_by("-id").values_list("id", flat=True).first()
        web = gunicorn(port)
        # The request's own cost: the worker is stopped, so it takes no CPU from the web
        # processes on this small machine (the tasks wait in Redis and run afterwards).
        os.kill(worker.pid, signal.SIGSTOP)
        try:
            request_only = wrk(port, "send.lua", TOKENS=",".join(tokens), USERS=ids)
        finally:
            os.kill(worker.pid, signal.SIGCONT)
        wait_until_notified(loaded)
        full = wrk(port, "send.lua", TOKENS=",".join(tokens), USERS=ids)
        sections.append(
            table(
                "1. Send throughput, POST /api/v1/messages/",
                ["configuration", "requests/s", "p50 ms", "p99 ms", "non-2xx", "ratio"],
                [
                    [
                        "receivers disconnected (baseline)",
                        f"{baseline[0]:.0f}",
                        f"{baseline[1]:.1f}",
                        f"{baseline[2]:.1f}",
                        baseline[3],
                        "100%",
                    ],
                    [
                        "everything on, worker paused (the request's own cost)",
                        f"{request_only[0]:.0f}",
                        f"{request_only[1]:.1f}",
                        f"{request_only[2]:.1f}",
                        request_only[3],
                        f"{request_only[0] / baseline[0]:.0%}",
                    ],
                    [
                        "everything on, worker on the same cores",
                        f"{full[0]:.0f}",
                        f"{full[1]:.1f}",
                        f"{full[2]:.1f}",
                        full[3],
                        f"{full[0] / baseline[0]:.0%}",
                    ],
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
        uncached = wrk(port, "inbox.lua", TOKENS=",".join(tokens), UNCACHED="1")
        cached = wrk(port, "inbox.lua", TOKENS=",".join(tokens))
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
        for process in (web, worker):
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
