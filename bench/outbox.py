"""Issue 28: the outbox against publishing after the commit, in one run.

    python -m bench.outbox      # BENCH_OUTAGE_SECONDS (30), BENCH_RATE_SECONDS (20)

The build before the outbox (BENCH_BEFORE, default c21ec40, checked out into a temporary
worktree) and this one run in turn, each with its own database, its own redis-server (broker,
cache and event logs, as `make start` has them), gunicorn (a worker per core), one Celery
worker and, for this build, the outbox relay. Three questions:

1. A 30 s Redis outage under 20 sends/s, open loop: of the messages sent, how many have
   their notification and their live event, and how long after Redis's return the last came.
2. 100 sends/s for BENCH_RATE_SECONDS, open loop: broker messages (LPUSH to the queues) and
   Redis commands and CPU per send; POST p50/p99; saved -> event appended (p50/p99: the push
   to an open stream follows within a millisecond, bench/live.py) and saved -> notification.
3. Closed-loop send throughput (wrk, 8 connections) with the worker and relay running.
"""

import http.client
import json
import os
import subprocess
import sys
import tempfile
import threading
import time
from decimal import Decimal
from pathlib import Path

import psycopg
import redis

from bench.common import machine, table
from bench.house import database, prepare, serve
from bench.processes import LOGS, ROOT, wrk
from devtools.cluster import free_port
from devtools.processes import relay_command, worker_command

BEFORE = os.environ.get("BENCH_BEFORE", "c21ec40")
OUTAGE = float(os.environ.get("BENCH_OUTAGE_SECONDS", "30"))
RATE_SECONDS = float(os.environ.get("BENCH_RATE_SECONDS", "20"))


class RedisServer:
    def __init__(self):
        self.port = free_port()
        self.directory = tempfile.mkdtemp(prefix="bench-redis-")
        self.process = None

    def start(self):
        self.process = subprocess.Popen(
            ["redis-server", "--port", str(self.port), "--save", "", "--appendonly", "no",
             "--dir", self.directory],
            stdout=subprocess.DEVNULL,
        )  # fmt: skip
        client = redis.Redis(port=self.port)
        for _ in range(100):
            try:
                client.ping()
                return
            except redis.ConnectionError:
                time.sleep(0.05)

    def stop(self):
        self.process.terminate()
        self.process.wait()

    def url(self, db: int) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def client(self) -> redis.Redis:
        return redis.Redis(port=self.port)

    def stats(self) -> tuple[dict, float]:
        """({command: calls}, CPU seconds) of the server so far."""
        info = self.client().info("all")
        calls = {
            k.removeprefix("cmdstat_"): v["calls"]
            for k, v in info.items()
            if k.startswith("cmdstat_")
        }
        return calls, info["used_cpu_sys"] + info["used_cpu_user"]


class Build:
    def __init__(self, name: str, tree: Path):
        self.name, self.tree = name, tree
        # The broker, the live events' log and the cache each on a server of its own, so
        # that each one's commands and CPU per send are its own.
        self.redis, self.events, self.cache = RedisServer(), RedisServer(), RedisServer()
        self.processes = []

    def start(self):
        for server in (self.redis, self.events, self.cache):
            server.start()
        self.db = database(f"bench_outbox_{self.name}")
        self.extra = {"REDIS_URL": self.redis.url(0), "REDIS_CACHE_URL": self.cache.url(0),
                      "EVENTS_REDIS_URL": self.events.url(0), "LOG_LEVEL": "INFO"}  # fmt: skip
        self.data = prepare_with(self.tree, self.db, self.extra)
        self.port = free_port()
        web = [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind",
               f"127.0.0.1:{self.port}", "--workers", str(os.cpu_count() or 2)]  # fmt: skip
        self.processes.append(
            serve(f"{self.name}-web", self.tree, web, self.port, self.db, **self.extra)
        )
        self.processes.append(self.spawn("worker", worker_command(concurrency=os.cpu_count() or 2)))
        if (self.tree / "core/outbox.py").exists():
            self.processes.append(self.spawn("relay", relay_command()))
        time.sleep(3)  # the worker and relay connect

    def spawn(self, role: str, command: list[str]):
        from bench.house import environment

        log = (LOGS / f"{self.name}-{role}.log").open("wb")
        return subprocess.Popen(command, cwd=self.tree, env=environment(self.db, **self.extra),
                                stdout=log, stderr=log)  # fmt: skip

    def stop(self):
        for process in self.processes:
            process.terminate()
            process.wait()
        for server in (self.redis, self.events, self.cache):
            server.stop()

    def query(self, sql: str, *params):
        return query(self.db, sql, *params)


def query(db: str, sql: str, *params) -> list[tuple]:
    """Rows with numbers as floats (epochs from extract() come as Decimal)."""
    with psycopg.connect(db) as conn:
        rows = conn.execute(sql, params).fetchall()
    return [tuple(float(v) if isinstance(v, Decimal) else v for v in row) for row in rows]


def prepare_with(tree: Path, db: str, extra: dict) -> dict:
    import bench.house as house

    saved = house.REDIS_URL, house.REDIS_CACHE_URL
    house.REDIS_URL, house.REDIS_CACHE_URL = extra["REDIS_URL"], extra["REDIS_CACHE_URL"]
    os.environ["EVENTS_REDIS_URL"] = extra["EVENTS_REDIS_URL"]
    try:
        return prepare(tree, db)
    finally:
        house.REDIS_URL, house.REDIS_CACHE_URL = saved


def open_loop(build: Build, rate: float, seconds: float, tag: str, during=None) -> list:
    """Send `rate` messages a second for `seconds` on schedule (not waiting for answers);
    returns (sent at, status, seconds, message id or None) of each."""
    tokens, ids = build.data["tokens"], build.data["ids"]
    results, lock = [], threading.Lock()
    local = threading.local()
    start = time.monotonic()
    total = int(rate * seconds)

    def one(n: int):
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", build.port, timeout=30)
        body = json.dumps({"receiver": ids[(n + 1) % len(ids)], "content": f"{tag} {n}"})
        sent = time.monotonic()
        try:
            local.conn.request("POST", "/api/v1/messages/", body, {
                "Authorization": f"Token {tokens[n % len(tokens)]}",
                "Content-Type": "application/json"})  # fmt: skip
            response = local.conn.getresponse()
            data = response.read()
            status = response.status
            message = json.loads(data).get("id") if status == 201 else None
        except Exception:
            local.conn = http.client.HTTPConnection("127.0.0.1", build.port, timeout=30)
            status, message = 0, None
        with lock:
            results.append((sent - start, status, time.monotonic() - sent, message))

    from concurrent.futures import ThreadPoolExecutor

    with ThreadPoolExecutor(64) as pool:
        for n in range(total):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            if during:
                during(time.monotonic() - start)
            pool.submit(one, n)
    return results


def pct(values: list[float], p: float) -> float:
    values = sorted(values)
    return values[min(len(values) - 1, int(len(values) * p))] if values else float("nan")


def logged_events(build: Build, users: list[int]) -> dict[int, float]:
    """message id -> when its "message.received" was appended (epoch seconds)."""
    client = build.events.client()
    found = {}
    for user in users:
        for event_id, fields in client.xrange(f"events:log:{user}"):
            if fields[b"e"] == b"message.received":
                found[json.loads(fields[b"d"])["message"]["id"]] = (
                    int(event_id.split(b"-")[0]) / 1000
                )
    return found


def outage(build: Build) -> list:
    ids = build.data["ids"]
    state = {"stopped": None, "back": None}

    def during(elapsed: float):
        if state["stopped"] is None and elapsed >= 5:
            for server in (build.redis, build.events, build.cache):
                server.stop()
            state["stopped"] = time.time()
        elif state["back"] is None and state["stopped"] and elapsed >= 5 + OUTAGE:
            for server in (build.redis, build.events, build.cache):
                server.start()
            state["back"] = time.time()

    results = open_loop(build, 20, 5 + OUTAGE + 5, "outage", during)
    sent = [r[3] for r in results if r[3]]
    deadline = time.time() + 30
    notified = []
    while time.time() < deadline:
        notified = build.query(
            "SELECT m.id, extract(epoch from n.created_at) FROM messaging_message m JOIN "
            "messaging_notification n ON n.message_id = m.id WHERE m.content LIKE 'outage %%'"
        )
        if len(notified) >= len(sent):
            break
        time.sleep(0.2)
    events = logged_events(build, ids)
    # The messages sent while Redis was away: when their effects came, after its return.
    during_ids = {m for t, s, _, m in results if m and 5 <= t < 5 + OUTAGE}
    back = state["back"]
    notified_at = {m: at for m, at in notified if m in during_ids}
    evented_at = {m: at for m, at in events.items() if m in during_ids}
    all_notified, all_evented = (
        len(notified_at) == len(during_ids),
        len(evented_at) == len(during_ids),
    )
    return [
        build.name,
        len(sent),
        f"{sum(1 for r in results if r[1] == 201)}/{len(results)}",
        f"{len(notified_at)}/{len(during_ids)}",
        f"{len(evented_at)}/{len(during_ids)}",
        f"{max(notified_at.values()) - back:.2f}" if all_notified else "not within 30 s",
        f"{max(evented_at.values()) - back:.2f}" if all_evented else "never",
        len(sent) - len(notified),
    ]


def steady(build: Build) -> tuple[list, list]:
    ids = build.data["ids"]
    servers = {"broker": build.redis, "events": build.events, "cache": build.cache}
    before = {name: server.stats() for name, server in servers.items()}
    results = open_loop(build, 100, RATE_SECONDS, "steady")
    time.sleep(3)  # the last notifications and events
    after = {name: server.stats() for name, server in servers.items()}
    sent = [r for r in results if r[3]]
    n = len(sent)
    per_send = {}
    for name in servers:
        calls = {k: v - before[name][0].get(k, 0) for k, v in after[name][0].items()}
        per_send[name] = (
            sum(calls.values()) / n,
            (after[name][1] - before[name][1]) / n * 1000,
            calls.get("lpush", 0) / n,
        )
    rows = build.query(
        "SELECT m.id, extract(epoch from m.timestamp), extract(epoch from n.created_at) FROM "
        "messaging_message m LEFT JOIN messaging_notification n ON n.message_id = m.id "
        "WHERE m.content LIKE 'steady %%'"
    )
    events = logged_events(build, ids)
    to_event = [(events[m] - saved) * 1000 for m, saved, _ in rows if m in events]
    to_notification = [(notified - saved) * 1000 for _, saved, notified in rows if notified]
    latencies = [r[2] * 1000 for r in sent]
    broker, live, cache = per_send["broker"], per_send["events"], per_send["cache"]
    first = [build.name, f"{n / RATE_SECONDS:.0f}", f"{broker[2]:.2f}",
             f"{broker[0]:.1f}", f"{broker[1]:.3f}", f"{live[0]:.1f}", f"{live[1]:.3f}",
             f"{cache[0]:.1f}", f"{cache[1]:.3f}", f"{broker[1] + live[1]:.3f}",
             f"{pct(latencies, 0.5):.1f}", f"{pct(latencies, 0.99):.1f}"]  # fmt: skip
    second = [build.name, f"{len(to_event)}/{n}", f"{pct(to_event, 0.5):.1f}",
              f"{pct(to_event, 0.99):.1f}", f"{pct(to_notification, 0.5):.1f}",
              f"{pct(to_notification, 0.99):.1f}"]  # fmt: skip
    return first, second


def throughput(build: Build) -> list:
    tokens, ids = ",".join(build.data["tokens"]), ",".join(map(str, build.data["ids"]))
    rate, p50, p99, errors = wrk(build.port, "send.lua", TOKENS=tokens, USERS=ids)
    return [build.name, f"{rate:,.0f}", f"{p50:.1f}", f"{p99:.1f}", errors]


def main() -> None:
    worktree = Path(tempfile.mkdtemp(prefix="bench-before-")) / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", str(worktree), BEFORE], cwd=ROOT,
                   check=True, capture_output=True)  # fmt: skip
    results = {"outage": [], "steady": [], "lag": [], "wrk": []}
    try:
        for build in (Build("before", worktree), Build("after", ROOT)):
            build.start()
            try:
                steady_row, lag_row = steady(build)
                results["steady"].append(steady_row)
                results["lag"].append(lag_row)
                results["wrk"].append(throughput(build))
                results["outage"].append(outage(build))
            finally:
                build.stop()
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT,
                       capture_output=True)  # fmt: skip
    before, after = results["wrk"]
    ratio = float(after[1].replace(",", "")) / float(before[1].replace(",", ""))
    b_messages, a_messages = (float(r[2]) for r in results["steady"])
    b_cpu, a_cpu = (float(r[4]) for r in results["steady"])
    b_both, a_both = (float(r[9]) for r in results["steady"])
    print(machine())
    table(f"Redis down {OUTAGE:.0f} s under 20 sends/s (open loop), then back",
                ["build", "sent", "201", "notified (outage window)", "live event (outage window)",
                 "return -> last notification s", "return -> last live event s", "lost"],
                results["outage"])  # fmt: skip
    table(f"100 sends/s for {RATE_SECONDS:.0f} s (open loop): each Redis server, per send",
          ["build", "sends/s", "broker messages", "broker commands", "broker CPU ms",
           "events commands", "events CPU ms", "cache commands", "cache CPU ms",
           "broker+events CPU ms (compose: one server)", "POST p50 ms", "POST p99 ms"],
          results["steady"])  # fmt: skip
    print(
        f"per send, after/before: broker messages {a_messages / b_messages:.2f}x, "
        f"broker CPU {a_cpu / b_cpu:.2f}x, broker+events CPU {a_both / b_both:.2f}x\n"
    )
    table("100 sends/s: saved -> live event appended, saved -> notification",
                ["build", "events seen", "event p50 ms", "event p99 ms", "notification p50 ms",
                 "notification p99 ms"], results["lag"])  # fmt: skip
    table("Closed-loop sends (wrk, 8 connections, worker and relay running)",
                ["build", "sends/s", "p50 ms", "p99 ms", "non-2xx"], results["wrk"])  # fmt: skip
    print(f"send throughput, after/before: {ratio:.2f}x")


if __name__ == "__main__":
    main()
