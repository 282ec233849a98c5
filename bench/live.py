"""Live events under load: `python -m bench.live` (issue 13; figures in docs/benchmarks.md).

Starts gunicorn's sync workers (the pages and the API), the ASGI stream server (gunicorn
with uvicorn's worker, as compose runs it), one Celery worker, and holds thousands of
streams from this process (asyncio). Measures: idle streams (memory, CPU, time to open),
push latency at 100 messages/s with 1,000 other streams open, send throughput with and
without 1,000 streams, and 1,000 pages polling every 3 seconds against streams and against
the naive per-page subscription (bench/naive_sse.py). BENCH_LIVE_SECONDS sets the latency
run (default 60).
"""

import asyncio
import os
import re
import socket
import statistics
import sys
import time
import urllib.request
from concurrent.futures import ThreadPoolExecutor

from bench.common import machine, setup, table
from bench.streams import Streams

setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth import get_user_model  # noqa: E402
from django.test import Client  # noqa: E402
from rest_framework.authtoken.models import Token  # noqa: E402

from bench.processes import (  # noqa: E402
    _answers,
    celery_worker,
    cpu_percent,
    cpu_seconds,
    gunicorn,
    interleaved,
    rss_mb,
    start,
    stop,
    wrk,
)
from core import events  # noqa: E402

LIVE_SECONDS = int(os.environ.get("BENCH_LIVE_SECONDS", "60"))
RATE = 100  # messages a second
NAIVE = re.compile(rb"data: naive (\d+)")
MARKED = 1_000_000  # events published by the bench itself are numbered from here


def wait_for_arrivals(arrivals: dict, expected, seconds: float = 10) -> None:
    """Until every expected event arrived, or `seconds` (the rest count as not arrived)."""
    deadline = time.monotonic() + seconds
    while any(n not in arrivals for n in expected) and time.monotonic() < deadline:
        time.sleep(0.05)


def port_open(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
        return True
    except OSError:
        return False


def make_users(count: int) -> tuple[list[int], list[str]]:
    User = get_user_model()
    User.objects.bulk_create(
        [User(username=f"live{n}", password="!") for n in range(count)], batch_size=2000
    )
    users = list(User.objects.filter(username__startswith="live").order_by("pk"))
    Token.objects.bulk_create([Token(user=u, key=Token.generate_key()) for u in users])
    keys = dict(Token.objects.values_list("user_id", "key"))
    return [u.pk for u in users], [keys[u.pk] for u in users]


def api_streams(tokens: list[str]) -> list[tuple[str, str]]:
    return [("/api/v1/events/", f"Authorization: Token {t}\r\n") for t in tokens]


def post(port: int, token: str, receiver: int, content: str) -> None:
    request = urllib.request.Request(
        f"http://127.0.0.1:{port}/api/v1/messages/",
        data=f'{{"receiver": {receiver}, "content": "{content}"}}'.encode(),
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    urllib.request.urlopen(request, timeout=10).read()


def paced(seconds: float, rate: int, action) -> dict[int, float]:
    """Call action(n) `rate` times a second for `seconds`; returns n -> start time."""
    sent: dict[int, float] = {}
    with ThreadPoolExecutor(16) as pool:
        begin = time.monotonic()
        for n in range(int(seconds * rate)):
            delay = begin + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            sent[n] = time.monotonic()
            pool.submit(action, n)
    return sent


def percentiles(sent: dict[int, float], arrivals: dict[int, float]) -> tuple[float, float, int]:
    latencies = sorted((arrivals[n] - t) * 1000 for n, t in sent.items() if n in arrivals)
    missing = len(sent) - len(latencies)
    p99 = latencies[min(len(latencies) - 1, int(len(latencies) * 0.99))]
    return statistics.median(latencies), p99, missing


def poll(port: int, cookies: list[str], seconds: float, every: float) -> tuple[float, float]:
    """Each cookie's page asks /badge/ every `every` seconds; returns (requests/s, p99 ms)."""

    async def page(cookie, latencies, stop_at, offset):
        await asyncio.sleep(offset)
        while time.monotonic() < stop_at:
            started = time.monotonic()
            # gunicorn's sync workers close the connection after each response.
            reader, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.write(
                f"GET /badge/ HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: {cookie}\r\n\r\n".encode()
            )
            await reader.read()
            writer.close()
            latencies.append((time.monotonic() - started) * 1000)
            await asyncio.sleep(max(0, every - (time.monotonic() - started)))

    async def run():
        latencies: list[float] = []
        stop_at = time.monotonic() + seconds
        spread = [every * n / len(cookies) for n in range(len(cookies))]
        await asyncio.gather(
            *(page(c, latencies, stop_at, o) for c, o in zip(cookies, spread, strict=True))
        )
        return latencies

    latencies = asyncio.run(run())
    return len(latencies) / seconds, sorted(latencies)[int(len(latencies) * 0.99)]


def asgi_server(port: int):
    """The stream server as compose runs it: gunicorn with uvicorn's worker, 2 processes."""
    command = ["gunicorn", "config.asgi:application", "--worker-class"]
    command += ["uvicorn_worker.UvicornWorker", "--workers", "2", "--bind", f"127.0.0.1:{port}"]
    return start("events", [sys.executable, "-m", *command], lambda: _answers(port))


def main():
    users, tokens = make_users(5_100)
    web_port, events_port, naive_port = 8301, 8302, 8303
    web = gunicorn(web_port)
    asgi = asgi_server(events_port)
    worker = celery_worker()
    naive = None
    streams = Streams()
    print(f"{machine()}\n", flush=True)
    rows = []
    try:
        # 1. Idle streams.
        base_rss = rss_mb(asgi.pid)
        for count in (1_000, 5_000):
            held = len(streams.writers)
            seconds = streams.open(events_port, api_streams(tokens[held:count]))
            cpu = cpu_percent(asgi.pid, 2 * settings.EVENTS_HEARTBEAT_SECONDS)
            per_stream = (rss_mb(asgi.pid) - base_rss) * 1024 / count
            rows.append([f"{count:,}", f"{seconds:.1f}", f"{per_stream:.1f}", f"{cpu:.1f}%"])
        table(
            "Idle streams held by 2 ASGI processes (this process holds the clients)",
            ["streams", "time to open all (s)", "memory per stream (KB)", "CPU at idle"],
            rows,
        )
        streams.close()

        # 2. Push latency, commit to arrival, 100 messages/s with 1,000 other streams open.
        senders, receivers = tokens[:50], users[50:100]
        streams.open(events_port, api_streams(tokens[50:100] + tokens[1_000:2_000]))
        sent = paced(
            LIVE_SECONDS,
            RATE,
            lambda n: post(web_port, senders[n % 50], receivers[n % 50], f"live {n}"),
        )
        wait_for_arrivals(streams.arrivals, sent)
        p50, p99, missing = percentiles(sent, streams.arrivals)
        saved = sorted(streams.since_saved.values())
        latency_rows = [
            [
                "message saved → stream (worker, publish, push)",
                len(saved),
                f"{statistics.median(saved):.1f}",
                f"{saved[int(len(saved) * 0.99)]:.1f}",
                missing,
            ],
            [
                "send request → stream (the request too)",
                len(sent),
                f"{p50:.1f}",
                f"{p99:.1f}",
                missing,
            ],
        ]
        table(
            f"Push latency at {RATE} messages/s, 1,000 other streams open (ms)",
            ["from", "events", "p50", "p99", "not arrived"],
            latency_rows,
        )

        # Publish → arrival alone, ours against the naive pattern, 1,000 streams each.
        streams.arrivals.clear()
        publisher = redis.Redis.from_url(settings.REDIS_URL)
        ours = paced(
            10,
            RATE,
            lambda n: events.publish(
                [(users[1_000 + n % 1_000], "bench", {"content": f"live {MARKED + n}"})]
            ),
        )
        wait_for_arrivals(streams.arrivals, [MARKED + n for n in ours])
        mark_arrivals = {n - MARKED: t for n, t in streams.arrivals.items() if n >= MARKED}
        streams.close()

        # 3. Send throughput, 1,000 streams (the receivers') open against none.
        send_env = {"TOKENS": ",".join(tokens[:200]), "USERS": ",".join(map(str, users[:200]))}
        with_streams = Streams()

        def sends_with_streams():
            with_streams.open(events_port, api_streams(tokens[:1_000]))
            try:
                return wrk(web_port, "send.lua", **send_env)
            finally:
                with_streams.close()

        throughput = interleaved(
            {"none": lambda: wrk(web_port, "send.lua", **send_env), "1,000": sends_with_streams}
        )

        none, many = throughput["none"], throughput["1,000"]
        table(
            "Sends (wrk, 8 connections) with streams open",
            ["streams open", "requests/s", "p50 ms", "p99 ms", "ratio"],
            [
                ["none", f"{none[0]:.0f}", f"{none[1]:.1f}", f"{none[2]:.1f}", "1.00"],
                [
                    "1,000",
                    f"{many[0]:.0f}",
                    f"{many[1]:.1f}",
                    f"{many[2]:.1f}",
                    f"{many[0] / none[0]:.2f}",
                ],
            ],
        )

        # 4. 1,000 pages: polling every 3 s, against streams, against the naive pattern.
        cookies = []
        for user in get_user_model().objects.filter(pk__in=users[:1_000]):
            client = Client()  # a login on the same client would end the previous session
            client.force_login(user)
            cookies.append(
                f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
            )
        before = cpu_seconds(web.pid)
        poll_rps, poll_p99 = poll(web_port, cookies, 30, 3.0)
        poll_cpu = (cpu_seconds(web.pid) - before) / 30 * 100
        page_streams = [("/events/", f"Cookie: {c}\r\n") for c in cookies]
        streams = Streams()
        streams.open(events_port, page_streams)
        stream_cpu = cpu_percent(asgi.pid, 30)
        stream_rss = rss_mb(asgi.pid)
        streams.close()

        naive = start(
            "naive",
            [
                sys.executable,
                "-m",
                "gunicorn",
                "bench.naive_sse:application",
                "--worker-class",
                "gthread",
                "--workers",
                "2",
                "--threads",
                "600",
                "--bind",
                f"127.0.0.1:{naive_port}",
            ],
            lambda: port_open(naive_port),
        )
        clients_before = publisher.info("clients")["connected_clients"]
        naive_streams = Streams()
        naive_rss_before = rss_mb(naive.pid)
        naive_streams.open(
            naive_port, [(f"/?user={u}", "") for u in users[1_000:2_000]], pattern=NAIVE
        )
        naive_clients = publisher.info("clients")["connected_clients"] - clients_before
        naive_cpu = cpu_percent(naive.pid, 30)
        naive_rss = rss_mb(naive.pid)
        naive_sent = paced(
            10, RATE, lambda n: publisher.publish(f"naive:{users[1_000 + n % 1_000]}", f"naive {n}")
        )
        wait_for_arrivals(naive_streams.arrivals, naive_sent)
        naive_p50, naive_p99, naive_missing = percentiles(naive_sent, naive_streams.arrivals)
        naive_streams.close()
        ours_p50, ours_p99, ours_missing = percentiles(ours, mark_arrivals)
        ordinary_views(web_port, events_port, users, tokens)
    finally:
        for process in (worker, asgi, web, naive):
            if process is not None:
                stop(process)

    latency_rows = [
        ["publish → stream (ours)", len(ours), f"{ours_p50:.1f}", f"{ours_p99:.1f}", ours_missing]
    ]
    latency_rows.append(
        [
            "publish → stream (naive)",
            len(naive_sent),
            f"{naive_p50:.1f}",
            f"{naive_p99:.1f}",
            naive_missing,
        ]
    )
    table(
        f"Publish to arrival at {RATE} events/s, 1,000 streams, ours against the naive (ms)",
        ["path", "events", "p50", "p99", "not arrived"],
        latency_rows,
    )
    table(
        "1,000 open pages",
        [
            "how",
            "requests/s",
            "server CPU",
            "memory (MB)",
            "Redis connections",
            "push p99 (ms)",
        ],
        [
            [
                "poll /badge/ every 3 s (gunicorn, 2 sync workers)",
                f"{poll_rps:.0f}",
                f"{poll_cpu:.0f}%",
                "-",
                "-",
                f"up to 3,000 (poll p99 {poll_p99:.1f})",
            ],
            [
                "streams, one subscription per process (ASGI, 2 processes)",
                "0",
                f"{stream_cpu:.1f}%",
                f"{stream_rss:.0f}",
                "2 + pool",
                f"{ours_p99:.1f}",
            ],
            [
                "naive: a subscription and a thread per page (gthread, 2 x 600)",
                "0",
                f"{naive_cpu:.1f}%",
                f"{naive_rss - naive_rss_before:.0f} more",
                f"{naive_clients}",
                f"{naive_p99:.1f}",
            ],
        ],
    )


def ordinary_views(web_port: int, asgi_port: int, users: list[int], tokens: list[str]) -> None:
    """The pages and the API under gunicorn's sync workers and under the ASGI server, in
    turns: why ordinary views stay on WSGI."""
    send_env = {"TOKENS": ",".join(tokens[:200]), "USERS": ",".join(map(str, users[:200]))}
    inbox_env = {"TOKENS": ",".join(tokens[:200])}
    results = interleaved(
        {
            "send, WSGI": lambda: wrk(web_port, "send.lua", **send_env),
            "send, ASGI": lambda: wrk(asgi_port, "send.lua", **send_env),
            "cached inbox, WSGI": lambda: wrk(web_port, "inbox.lua", **inbox_env),
            "cached inbox, ASGI": lambda: wrk(asgi_port, "inbox.lua", **inbox_env),
        }
    )
    rows = []
    for name, (rps, p50, p99, errors) in results.items():
        wsgi = results[name.replace("ASGI", "WSGI")][0]
        rows.append([name, f"{rps:.0f}", f"{p50:.1f}", f"{p99:.1f}", errors, f"{rps / wsgi:.2f}"])
    table(
        "Ordinary views: gunicorn sync (2 workers) against uvicorn's worker (2), same run",
        ["request, server", "requests/s", "p50 ms", "p99 ms", "errors", "ratio"],
        rows,
    )


def views_only() -> None:
    """`python -m bench.live views`: only the comparison of servers for ordinary views."""
    users, tokens = make_users(200)
    web, asgi = gunicorn(8301), asgi_server(8302)
    worker = celery_worker()
    try:
        ordinary_views(8301, 8302, users, tokens)
    finally:
        for process in (worker, asgi, web):
            stop(process)


if __name__ == "__main__":
    views_only() if sys.argv[1:] == ["views"] else main()
