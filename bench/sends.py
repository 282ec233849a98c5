"""Issue 32: sends and reads on one machine, the build before and this one, each server model,
in one run.

    python -m bench.sends    # BENCH_BEFORE (ee632fb), BENCH_RATES (50,100,200,300,400),
                             # BENCH_RATE_SECONDS (10), BENCH_MODELS (sync,gthread,granian),
                             # BENCH_BUILDS (before,after; or pgbouncer),
                             # BENCH_POOL_SIZE (10)

Each build (the one before, checked out into a temporary worktree, then this one) gets its
own database and its own redis-server (broker, cache and event logs on one server, as `make
start` and compose run them), the stream server (gunicorn with uvicorn's worker), one Celery
worker (2 processes) and the outbox relay, all on the machine's cores beside the web server
and this client. Then, for each server model in turn (2 processes each: a worker per core):

- open-loop sends at each rate for BENCH_RATE_SECONDS: the rate achieved (201s over the time
  to the last answer), POST p50/p99, saved -> notification row p99 (the message's timestamp
  to the notification's, both set by the platform's own clock) and saved -> pushed p99 (to
  one open stream per user, held by this process);
- the CPU of the web processes and of the worker and relay per send, at 100 sends/s;
- cached inbox reads, open loop at 200/s: p50/p99 and web CPU per read;
- SQL statements and Redis round trips of one send and one cached read, counted in-process
  with the build's own code (devtools/round_trips.py, copied beside it).
"""

import http.client
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import psycopg

from bench.common import machine, table
from bench.house import database, environment, serve
from bench.outbox import RedisServer, pct, prepare_with, query
from bench.processes import LOGS, ROOT, cpu_seconds, wrk
from bench.streams import Streams
from devtools.cluster import free_port
from devtools.processes import relay_command, worker_command

BEFORE = os.environ.get("BENCH_BEFORE", "ee632fb")
RATES = [int(r) for r in os.environ.get("BENCH_RATES", "50,100,200,300,400").split(",")]
SECONDS = float(os.environ.get("BENCH_RATE_SECONDS", "10"))
MODELS = os.environ.get("BENCH_MODELS", "sync,gthread,granian").split(",")
# "pgbouncer": this build with PgBouncer between PostgreSQL and everything but the relay.
BUILDS = os.environ.get("BENCH_BUILDS", "before,after").split(",")
PROCESSES = os.cpu_count() or 2
THREADS = 4  # per process, for the threaded models


def web_command(model: str, port: int) -> list[str]:
    """The web server of each model, a process per core."""
    bind = ["--bind", f"127.0.0.1:{port}", "--workers", str(PROCESSES), "--no-control-socket"]
    gunicorn = [sys.executable, "-m", "gunicorn", "config.wsgi:application", *bind]
    return {
        "sync": gunicorn,
        "gthread": [*gunicorn, "--worker-class", "gthread", "--threads", str(THREADS)],
        "granian": [sys.executable, "-m", "granian", "--interface", "wsgi", "--host",
                    "127.0.0.1", "--port", str(port), "--workers", str(PROCESSES),
                    "--blocking-threads", str(THREADS), "--no-ws", "config.wsgi:application"],
    }[model]  # fmt: skip


class Build:
    def __init__(
        self, name: str, tree: Path, pooler: bool = False, env: dict | None = None,
        metrics: bool = False,
    ):  # fmt: skip
        self.name, self.tree, self.pooler = name, tree, pooler
        # Settings of this build's processes; with `metrics`, each role serves its own
        # (METRICS_PORT, gunicorn's master through config/gunicorn.py).
        self.env, self.metrics = env or {}, metrics
        self.metrics_ports = {role: free_port() for role in ("web", "events", "worker", "relay")}
        self.metrics_dir = tempfile.mkdtemp(prefix=f"bench-metrics-{name}-")
        self.redis = RedisServer()
        self.processes: list[subprocess.Popen] = []
        self.next_number = 0  # of the messages sent, across runs

    def start(self) -> None:
        self.redis.start()
        self.db = database(f"bench_sends_{self.name}")
        url = self.redis.url
        self.extra = {"REDIS_URL": url(0), "REDIS_CACHE_URL": url(1), "EVENTS_REDIS_URL": url(2),
                      **self.env}  # fmt: skip
        self.data = prepare_with(self.tree, self.db, self.extra)
        # What the web server, the worker and the stream server connect to: PostgreSQL, or
        # PgBouncer in front of it (the relay always connects directly: LISTEN needs a
        # session).
        self.app_db = self.db
        if self.pooler:
            self.bouncer = PgBouncer(self.db)
            self.app_db = self.bouncer.url
        self.events_port = free_port()
        events = [sys.executable, "-m", "gunicorn", "config.asgi:application", "--worker-class",
                  "uvicorn_worker.UvicornWorker", "--bind", f"127.0.0.1:{self.events_port}",
                  "--workers", "1", "--no-control-socket", *self.gunicorn_config()]  # fmt: skip
        self.processes.append(
            serve(
                f"{self.name}-events",
                self.tree,
                events,
                self.events_port,
                self.app_db,
                DB_CONN_MAX_AGE="0",
                **self.extra,
                **self.role_env("events"),
            )
        )
        self.worker = self.spawn("worker", worker_command(concurrency=PROCESSES))
        self.relay = self.spawn("relay", relay_command())
        self.streams = Streams()
        self.streams.open(
            self.events_port,
            [("/api/v1/events/", f"Authorization: Token {t}\r\n") for t in self.data["tokens"]],
        )

    def spawn(self, role: str, command: list[str]) -> subprocess.Popen:
        log = (LOGS / f"{self.name}-{role}.log").open("wb")
        db = self.db if role == "relay" else self.app_db
        env = environment(db, LOG_LEVEL="INFO", **self.extra, **self.role_env(role))
        process = subprocess.Popen(command, cwd=self.tree, stdout=log, stderr=log, env=env)
        self.processes.append(process)
        return process

    def serve(self, model: str) -> tuple[subprocess.Popen, int]:
        port = free_port()
        command = web_command(model, port)
        if model != "granian":
            command += self.gunicorn_config()
        web = serve(f"{self.name}-{model}", self.tree, command, port,
                    self.app_db, **self.extra, **self.role_env("web"))  # fmt: skip
        return web, port

    def role_env(self, role: str) -> dict:
        if not self.metrics:
            return {}
        return {"METRICS_PORT": str(self.metrics_ports[role]), "METRICS_DIR": self.metrics_dir}

    def gunicorn_config(self) -> list[str]:
        return ["--config", "config/gunicorn.py"] if self.metrics else []

    def stop(self) -> None:
        self.streams.close()
        for process in self.processes:
            process.terminate()
            process.wait()
        if self.pooler:
            self.bouncer.stop()
        self.redis.stop()

    def query(self, sql: str, *params) -> list[tuple]:
        return query(self.db, sql, *params)

    def settled(self, last_number: int, seconds: float = 120) -> None:
        """Until the worker has caught up with the sends so far (no run spills into the
        next one's figures)."""
        deadline = time.monotonic() + seconds
        while time.monotonic() < deadline:
            waiting = self.query(
                "SELECT (SELECT count(*) FROM core_outbox) + (SELECT count(*) FROM "
                "messaging_message m WHERE NOT EXISTS (SELECT FROM messaging_notification n "
                "WHERE n.message_id = m.id) AND m.content LIKE 'live %%')"
            )[0][0]
            if waiting == 0 and self.redis.client().llen("default") == 0:
                return
            time.sleep(0.5)


class PgBouncer:
    """Debian's pgbouncer in transaction mode before the build's database, a pool of
    POOL_SIZE server connections (it refuses to run as root: run as nobody)."""

    POOL_SIZE = int(os.environ.get("BENCH_POOL_SIZE", "10"))

    def __init__(self, db: str):
        subprocess.run([str(ROOT / "scripts" / "system-packages"), "/usr/sbin/pgbouncer=pgbouncer"],
                       check=True)  # fmt: skip
        self.directory = Path(tempfile.mkdtemp(prefix="bench-pgbouncer-"))
        self.port = free_port()
        server = psycopg.conninfo.conninfo_to_dict(db)
        name = server["dbname"]
        (self.directory / "users.txt").write_text('"postgres" ""\n')
        (self.directory / "pgbouncer.ini").write_text(
            f"[databases]\n{name} = host={server['host']} port={server['port']} dbname={name} "
            f"user={server['user']}\n[pgbouncer]\nlisten_addr = 127.0.0.1\n"
            f"listen_port = {self.port}\nunix_socket_dir =\nauth_type = trust\n"
            f"auth_file = {self.directory}/users.txt\npool_mode = transaction\n"
            f"default_pool_size = {self.POOL_SIZE}\nmax_client_conn = 1000\n"
            "ignore_startup_parameters = extra_float_digits,options\n"
        )
        self.directory.chmod(0o755)
        log = (LOGS / "pgbouncer.log").open("wb")
        self.process = subprocess.Popen(
            ["runuser", "-u", "nobody", "--", "pgbouncer", str(self.directory / "pgbouncer.ini")],
            stdout=log, stderr=log,
        )  # fmt: skip
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/{name}"
        deadline = time.monotonic() + 10
        while True:
            try:
                psycopg.connect(self.url, autocommit=True).close()
                return
            except psycopg.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.1)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait()


def open_loop(port: int, rate: float, seconds: float, request) -> list[tuple]:
    """`request(connection, n)` `rate` times a second for `seconds`, on schedule (not
    waiting for answers); (n, started, status, seconds, finished) of each."""
    results, lock, local = [], threading.Lock(), threading.local()
    start = time.monotonic()

    def one(n: int):
        if not hasattr(local, "conn"):
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
        sent = time.monotonic()
        try:
            response = request(local.conn, n)
            response.read()
            status = response.status
        except (OSError, http.client.HTTPException):
            local.conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
            status = 0
        done = time.monotonic()
        with lock:
            results.append((n, sent - start, status, done - sent, done - start))

    with ThreadPoolExecutor(128) as pool:
        for n in range(int(rate * seconds)):
            delay = start + n / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            pool.submit(one, n)
    return results


def sends(build: Build, port: int, web: subprocess.Popen, rate: int, seconds=SECONDS) -> dict:
    tokens, ids = build.data["tokens"], build.data["ids"]
    first = build.next_number

    def post(conn, n):
        number = first + n
        body = json.dumps({"receiver": ids[(n + 1) % len(ids)], "content": f"live {number}"})
        conn.request("POST", "/api/v1/messages/", body, {
            "Authorization": f"Token {tokens[n % len(tokens)]}",
            "Content-Type": "application/json"})  # fmt: skip
        return conn.getresponse()

    cpu = {"web": cpu_seconds(web.pid), "worker": _worker_cpu(build)}
    with Sampler(build) as connections:
        results = open_loop(port, rate, seconds, post)
    build.next_number = first + len(results)
    cpu_web = cpu_seconds(web.pid) - cpu["web"]
    build.settled(build.next_number)
    cpu_worker = _worker_cpu(build) - cpu["worker"]
    ok = [r for r in results if r[2] == 201]
    rows = build.query(
        "SELECT substr(m.content, 6)::int, extract(epoch from n.created_at - m.timestamp) FROM "
        "messaging_message m JOIN messaging_notification n ON n.message_id = m.id "
        "WHERE m.content LIKE 'live %%' AND substr(m.content, 6)::int >= %s",
        first,
    )
    to_notification = [seconds * 1000 for _, seconds in rows]
    pushed = [ms for n, ms in build.streams.since_saved.items() if n >= first]
    return {
        "achieved": len(ok) / max(r[4] for r in results),
        "errors": len(results) - len(ok),
        "p50": pct([r[3] * 1000 for r in ok], 0.5),
        "p99": pct([r[3] * 1000 for r in ok], 0.99),
        "notified": pct(to_notification, 0.99),
        "pushed": pct(pushed, 0.99),
        "pushed_count": len(pushed),
        "web_cpu_ms": cpu_web * 1000 / max(1, len(ok)),
        "worker_cpu_ms": cpu_worker * 1000 / max(1, len(ok)),
        "sent": len(ok),
        # Little's law, L = lambda W: requests in the web tier on average (achieved rate times
        # the mean time to answer), and PostgreSQL connections busy, sampled.
        "in_web": len(ok) / max(r[4] for r in results) * statistics.mean(r[3] for r in ok),
        "db_busy": connections.busy,
        "db_open": connections.open,
    }


class Sampler:
    """PostgreSQL connections of the build's database during a run, every 20 ms: the mean
    of those running a statement, and the most open at once."""

    def __init__(self, build: Build):
        self.build, self.samples, self.stop = build, [], threading.Event()

    def __enter__(self):
        self.thread = threading.Thread(target=self.run, daemon=True)
        self.thread.start()
        return self

    def run(self):
        name = self.build.db.rsplit("/", 1)[1]
        with psycopg.connect(self.build.db, autocommit=True) as conn:
            while not self.stop.wait(0.02):
                self.samples.append(conn.execute(
                    "SELECT count(*) FILTER (WHERE state = 'active'), count(*) FROM "
                    "pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [name],
                ).fetchone())  # fmt: skip

    def __exit__(self, *exc):
        self.stop.set()
        self.thread.join()
        # The relay's LISTEN and the streams' connections idle; "active" ones work.
        self.busy = statistics.mean(s[0] for s in self.samples) if self.samples else 0
        self.open = max((s[1] for s in self.samples), default=0)


def _worker_cpu(build: Build) -> float:
    return cpu_seconds(build.worker.pid) + cpu_seconds(build.relay.pid)


def reads(build: Build, port: int, web: subprocess.Popen, rate: int = 200) -> dict:
    tokens = build.data["tokens"]

    def get(conn, n):
        conn.request("GET", "/api/v1/messages/",
                     headers={"Authorization": f"Token {tokens[n % len(tokens)]}"})  # fmt: skip
        return conn.getresponse()

    open_loop(port, 50, 1, get)  # every user's first page cached
    before = cpu_seconds(web.pid)
    results = open_loop(port, rate, SECONDS / 2, get)
    used = cpu_seconds(web.pid) - before
    ok = [r[3] * 1000 for r in results if r[2] == 200]
    return {"p50": pct(ok, 0.5), "p99": pct(ok, 0.99), "web_cpu_ms": used * 1000 / len(ok)}


COUNT = """
import json, sys
from django.contrib.auth.models import User
from django.db import close_old_connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient
import round_trips_probe as round_trips
a, b = User.objects.get(username="bench0"), User.objects.get(username="bench1")
client = APIClient(SERVER_NAME="127.0.0.1")  # an allowed host
client.credentials(HTTP_AUTHORIZATION="Token " + Token.objects.get(user=a).key)
send = lambda: client.post("/api/v1/messages/", {"receiver": b.pk, "content": "count"},
                           format="json")
read = lambda: client.get("/api/v1/messages/")
counts = {}
for name, request in (("send", send), ("read", read)):
    request()
    close_old_connections()  # as a server's start of request does: a health check is due
    with round_trips.counted() as trips:
        status = request().status_code
    assert status in (200, 201), status
    counts[name] = [len(trips.sql), len(trips.redis)]
print("BENCH", json.dumps(counts))
"""


def round_trips(build: Build) -> dict:
    """(SQL statements, Redis round trips) of a send and of a cached read, with the build's
    own code and this build's counter."""
    probe = Path(tempfile.mkdtemp(prefix="bench-probe-"))
    shutil.copy(ROOT / "devtools" / "round_trips.py", probe / "round_trips_probe.py")
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", COUNT],
        cwd=build.tree,
        env={**environment(build.db, **build.extra), "PYTHONPATH": str(probe)},
        capture_output=True, text=True, check=True,
    )  # fmt: skip
    return json.loads(done.stdout.split("BENCH", 1)[1])


def under_load(build: Build, port: int, web: subprocess.Popen) -> dict:
    """Closed loop (wrk, 2 connections: each process busy): web CPU ms a send and a cached
    read, and the rates."""
    tokens, users = ",".join(build.data["tokens"]), ",".join(map(str, build.data["ids"]))
    found = {}
    for name, script in (("send", "send.lua"), ("read", "inbox.lua")):
        before = cpu_seconds(web.pid)
        rate, *_ = wrk(port, script, seconds=8, connections=2, TOKENS=tokens, USERS=users)
        found[name] = ((cpu_seconds(web.pid) - before) * 1000 / (rate * 8), rate)
    build.settled(build.next_number)
    return found


def measure(build: Build) -> dict:
    found = {"trips": round_trips(build), "models": {}}
    for model in MODELS:
        web, port = build.serve(model)
        try:
            sends(build, port, web, 50, seconds=2)  # warm: every thread's connections open
            runs = {rate: sends(build, port, web, rate) for rate in RATES}
            found["models"][model] = {
                "sends": runs,
                "reads": reads(build, port, web),
                "load": under_load(build, port, web),
            }
        finally:
            web.terminate()
            web.wait()
    return found


def sustained(runs: dict) -> int:
    """The highest rate offered that was achieved (within 5 %) with POST p99 < 100 ms."""
    good = [rate for rate, r in runs.items()
            if r["errors"] == 0 and r["achieved"] >= 0.95 * rate and r["p99"] < 100]  # fmt: skip
    return max(good, default=0)


def main() -> None:
    worktree = Path(tempfile.mkdtemp(prefix="bench-before-")) / "tree"
    subprocess.run(["git", "worktree", "add", "--detach", str(worktree), BEFORE], cwd=ROOT,
                   check=True, capture_output=True)  # fmt: skip
    results = {}
    try:
        builds = (Build("before", worktree), Build("after", ROOT),
                  Build("pgbouncer", ROOT, pooler=True))  # fmt: skip
        for build in builds:
            if build.name not in BUILDS:
                continue
            build.start()
            try:
                results[build.name] = measure(build)
            finally:
                build.stop()
    finally:
        subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT,
                       capture_output=True)  # fmt: skip
    report(results)


def each_run(results: dict):
    """(build, server model, rate offered, its figures) of every open-loop run."""
    for build, found in results.items():
        for model, measured in found["models"].items():
            for rate, figures in measured["sends"].items():
                yield build, model, rate, figures


def report(results: dict) -> None:
    print(machine())
    print(f"before: {BEFORE}; each model {PROCESSES} processes ({THREADS} threads each for "
          f"gthread and granian); open loop, {SECONDS:.0f} s a rate\n")  # fmt: skip
    rows = []
    for build, model, rate, r in each_run(results):
        rows.append([build, model, rate, f"{r['achieved']:.0f}", r["errors"],
                     f"{r['p50']:.1f}", f"{r['p99']:.1f}", f"{r['notified']:.1f}",
                     f"{r['pushed']:.1f}", f"{r['pushed_count']}/{r['sent']}"])  # fmt: skip
    table("Open-loop sends", ["build", "server", "offered/s", "achieved/s", "errors",
          "POST p50 ms", "POST p99 ms", "saved -> notification p99 ms",
          "saved -> pushed p99 ms", "pushed"], rows)  # fmt: skip
    first = next(iter(results.values()))["models"]
    base = sustained(first[next(iter(first))]["sends"])
    rows = []
    for build, found in results.items():
        for model, measured in found["models"].items():
            at_100 = measured["sends"].get(100) or next(iter(measured["sends"].values()))
            rate = sustained(measured["sends"])
            read = measured["reads"]
            rows.append([build, model, rate, f"{rate / base:.1f}x" if base else "-",
                         f"{at_100['web_cpu_ms']:.2f}", f"{at_100['worker_cpu_ms']:.2f}",
                         f"{read['web_cpu_ms']:.2f}", f"{read['p50']:.1f}",
                         f"{read['p99']:.1f}"])  # fmt: skip
    table("Sustained sends (achieved, POST p99 < 100 ms) and CPU", ["build", "server",
          "sends/s sustained", "vs the first row", "web CPU ms a send (100/s)",
          "worker+relay CPU ms a send", "web CPU ms a cached read (200/s)",
          "read p50 ms", "read p99 ms"], rows)  # fmt: skip
    rows = []
    for build, model, rate, r in each_run(results):
        rows.append([build, model, rate, f"{r['achieved']:.0f}", f"{r['in_web']:.2f}",
                     f"{r['db_busy']:.2f}", r["db_open"],
                     f"{r['web_cpu_ms'] * r['achieved'] / 10:.0f}"])  # fmt: skip
    table("Waiting as well as CPU (Little's law: L = achieved rate x mean time held)",
          ["build", "server", "offered/s", "achieved/s", "requests in the web tier (L)",
           "PostgreSQL connections busy (sampled)", "connections open (max)",
           "web CPU % of one core"], rows)  # fmt: skip
    rows = []
    for build, found in results.items():
        for model, measured in found["models"].items():
            (send_cpu, send_rate), (read_cpu, read_rate) = (
                measured["load"]["send"], measured["load"]["read"])  # fmt: skip
            rows.append([build, model, f"{send_rate:.0f}", f"{send_cpu:.2f}",
                         f"{read_rate:.0f}", f"{read_cpu:.2f}"])  # fmt: skip
    table("Under load (closed loop, wrk with 2 connections, 8 s; worker running)",
          ["build", "server", "sends/s", "web CPU ms a send", "cached reads/s",
           "web CPU ms a read"], rows)  # fmt: skip
    table("Round trips (in-process, each build's own code)",
          ["build", "SQL a send", "Redis a send", "SQL a cached read", "Redis a cached read"],
          [[b, *f["trips"]["send"], *f["trips"]["read"]] for b, f in results.items()])  # fmt: skip


if __name__ == "__main__":
    main()
