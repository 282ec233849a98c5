"""Issue 29's two questions, each answered in one run with alternating rounds:

1. Does the house move (PostgreSQL only, the jobs and accounts apps, the settings reader,
   one breaker) cost the API anything? The build before it (BENCH_BEFORE, default a321ad8,
   checked out into a temporary worktree) against this one, each under gunicorn (a worker
   per core) on a database of its own, migrated by its own code.
2. What does `make start` gain by serving as production does? The same build served by one
   uvicorn process (config.asgi, every view: `make start` before) against nginx with
   deploy/'s template in front of gunicorn's sync workers (`make start` now).

    python -m bench.house          # BENCH_SECONDS per wrk run (10), BENCH_ROUNDS (3)

wrk, 8 connections: the inbox API (GET /api/v1/messages/, cached after the first read, and
uncached) and sends (POST /api/v1/messages/); no Celery worker runs, so sends measure the
request alone (their tasks wait in the bench's Redis database, emptied between runs).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg
import redis

from bench.common import machine, table
from bench.processes import LOGS, ROOT, ROUNDS, SECONDS, _answers, wrk
from devtools import front, postgres
from devtools.cluster import free_port

BEFORE = os.environ.get("BENCH_BEFORE", "a321ad8")
SERVER = os.environ.get("BENCH_POSTGRES", postgres.local().url())
REDIS_URL, REDIS_CACHE_URL = "redis://127.0.0.1:6379/12", "redis://127.0.0.1:6379/13"
USERS, MESSAGES_EACH = 20, 200

PREPARE = """
import json
from django.core.management import call_command
call_command("migrate", verbosity=0)
call_command("flush", interactive=False, verbosity=0)
from django.contrib.auth.models import User
from rest_framework.authtoken.models import Token
from messaging.models import Message
users = [User.objects.create_user(f"bench{n}", password="x") for n in range(%(users)d)]
Message.objects.bulk_create(
    Message(sender=users[n], receiver=users[(n + 1) %% len(users)], content=f"hello {n} {k}")
    for n in range(len(users)) for k in range(%(each)d)
)
tokens = [Token.objects.create(user=u).key for u in users]
print("BENCH", json.dumps({"tokens": tokens, "ids": [u.pk for u in users]}))
"""


def database(name: str) -> str:
    with psycopg.connect(SERVER, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{name}"')
        conn.execute(f'CREATE DATABASE "{name}"')
    return SERVER.rsplit("/", 1)[0] + f"/{name}"


def environment(database_url: str, **extra) -> dict:
    return {
        **os.environ,
        "DATABASE_URL": database_url,
        "REDIS_URL": REDIS_URL,
        "REDIS_CACHE_URL": REDIS_CACHE_URL,
        "SECRET_KEY": "bench-only",
        "ENV_FILE": os.devnull,
        "LOG_LEVEL": "WARNING",
        "MESSAGE_SEND_RATE": "1000000/min",
        "THROTTLE_AUTH_RATE": "1000000/min",
        **extra,
    }


def prepare(tree: Path, database_url: str) -> dict:
    """Migrate and fill the database with `tree`'s code; the users' tokens and ids."""
    code = PREPARE % {"users": USERS, "each": MESSAGES_EACH}
    done = subprocess.run(
        [sys.executable, "manage.py", "shell", "-v", "0", "-c", code],
        cwd=tree,
        env=environment(database_url),
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.split("BENCH", 1)[1])


def serve(name: str, tree: Path, command: list[str], port: int, database_url: str, **extra):
    log = (LOGS / f"{name}.log").open("wb")
    process = subprocess.Popen(
        command, cwd=tree, env=environment(database_url, **extra), stdout=log, stderr=log
    )
    deadline = time.monotonic() + 60
    while not _answers(port):
        if process.poll() is not None or time.monotonic() > deadline:
            raise SystemExit(f"{name} did not start; see {LOGS / name}.log")
        time.sleep(0.2)
    return process


def gunicorn(tree: Path, port: int) -> list[str]:
    workers = str(os.cpu_count() or 2)
    return [sys.executable, "-m", "gunicorn", "config.wsgi:application", "--bind",
            f"127.0.0.1:{port}", "--workers", workers, "--no-control-socket"]  # fmt: skip


def workloads(port: int, data: dict) -> dict:
    tokens, ids = ",".join(data["tokens"]), ",".join(map(str, data["ids"]))

    def send():
        redis.Redis.from_url(REDIS_URL).flushdb()
        return wrk(port, "send.lua", TOKENS=tokens, USERS=ids)

    return {
        "inbox API, cached": lambda: wrk(port, "inbox.lua", TOKENS=tokens),
        "inbox API, uncached": lambda: wrk(port, "inbox.lua", TOKENS=tokens, UNCACHED="1"),
        "send": send,
    }


def compare(configurations: dict) -> dict:
    """{configuration: {workload: median wrk result}}, the configurations alternating."""
    results = {name: {} for name in configurations}
    for _ in range(ROUNDS):
        for name, runs in configurations.items():
            for workload, run in runs.items():
                results[name].setdefault(workload, []).append(run())
    return {
        name: {w: sorted(r)[len(r) // 2] for w, r in by_workload.items()}
        for name, by_workload in results.items()
    }


def rows(results: dict, before: str, after: str) -> list[list]:
    out = []
    for workload in results[before]:
        b, a = results[before][workload], results[after][workload]
        out.append(
            [
                workload,
                f"{b[0]:,.0f}",
                f"{a[0]:,.0f}",
                f"{a[0] / b[0]:.2f}x",
                f"{b[2]:.1f}",
                f"{a[2]:.1f}",
                b[3] + a[3],
            ]
        )
    return out


HEADER = ["workload", "before req/s", "after req/s", "ratio", "before p99 ms", "after p99 ms"]
HEADER += ["non-2xx"]


def main() -> None:
    worktree = Path(tempfile.mkdtemp(prefix="bench-before-")) / "tree"
    subprocess.run(
        ["git", "worktree", "add", "--detach", str(worktree), BEFORE],
        cwd=ROOT, check=True, capture_output=True,
    )  # fmt: skip
    processes = []
    try:
        before_db, after_db = database("bench_house_before"), database("bench_house_after")
        before_data, after_data = prepare(worktree, before_db), prepare(ROOT, after_db)
        ports = {name: free_port() for name in ("before", "after", "uvicorn", "pages", "front")}
        processes += [
            serve("before", worktree, gunicorn(worktree, ports["before"]), ports["before"],
                  before_db),
            serve("after", ROOT, gunicorn(ROOT, ports["after"]), ports["after"], after_db),
        ]  # fmt: skip
        builds = compare(
            {
                "before": workloads(ports["before"], before_data),
                "after": workloads(ports["after"], after_data),
            }
        )
        for process in processes:
            process.terminate()
            process.wait()
        processes.clear()

        uvicorn = [sys.executable, "-m", "uvicorn", "config.asgi:application", "--port",
                   str(ports["uvicorn"])]  # fmt: skip
        processes.append(serve("uvicorn", ROOT, uvicorn, ports["uvicorn"], after_db))
        processes.append(serve("pages", ROOT, gunicorn(ROOT, ports["pages"]), ports["pages"],
                               after_db))  # fmt: skip
        config = front.write_config(
            Path(tempfile.mkdtemp(prefix="bench-front-")),
            listen=f"127.0.0.1:{ports['front']}",
            web=f"127.0.0.1:{ports['pages']}",
            events=f"127.0.0.1:{free_port()}",
        )
        processes.append(subprocess.Popen(front.command(config), stderr=subprocess.DEVNULL))
        serving = compare(
            {
                "uvicorn": workloads(ports["uvicorn"], after_data),
                "front": workloads(ports["front"], after_data),
            }
        )
    finally:
        for process in processes:
            process.terminate()
            process.wait()
        subprocess.run(["git", "worktree", "remove", "--force", str(worktree)], cwd=ROOT)
        shutil.rmtree(worktree.parent, ignore_errors=True)

    where = f"{machine()}, wrk 8 connections, {SECONDS} s runs, median of {ROUNDS}"
    table(
        f"The house move: the build before it ({BEFORE}) against this one, gunicorn ({where})",
        HEADER,
        rows(builds, "before", "after"),
    )
    table(
        f"`make start` before (one uvicorn process) and now (nginx before gunicorn) ({where})",
        HEADER,
        rows(serving, "uvicorn", "front"),
    )


if __name__ == "__main__":
    main()
