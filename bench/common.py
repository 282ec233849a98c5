"""Shared set-up of the benchmarks: a database and Redis databases of their own, and tables.

Each script runs on PostgreSQL (`BENCH_DATABASE_URL`, default the `messaging_bench` database
of the local server `make start` and `make test` run, created if missing) and Redis
databases 12 and 13, so a run never touches the platform's data or the tests'.
"""

import os
import platform
import subprocess
import time
from collections.abc import Callable

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
os.environ.setdefault("SECRET_KEY", "bench-only")
os.environ["DATABASE_URL"] = os.environ.get(
    "BENCH_DATABASE_URL", "postgres://postgres@127.0.0.1:54329/messaging_bench"
)
os.environ["REDIS_URL"] = os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/12")
os.environ["REDIS_CACHE_URL"] = os.environ.get("BENCH_REDIS_CACHE_URL", "redis://127.0.0.1:6379/13")
os.environ.setdefault("LOG_LEVEL", "WARNING")
os.environ.setdefault("MESSAGE_SEND_RATE", "1000000/min")


def setup_without_reset() -> None:
    """Configure Django on the bench database as it is (for a benchmark's child process)."""
    import django

    django.setup()


def setup() -> None:
    """Create the bench database if needed, configure Django, migrate and empty it."""
    import django
    import psycopg
    from django.conf import settings

    db = settings.DATABASES["default"]
    if db["ENGINE"].endswith("postgresql"):
        with psycopg.connect(
            host=db["HOST"],
            port=db["PORT"] or 5432,
            user=db["USER"],
            dbname="postgres",
            autocommit=True,
        ) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [db["NAME"]])
            if not exists.fetchone():
                conn.execute(f'CREATE DATABASE "{db["NAME"]}"')
    django.setup()
    from django.core.management import call_command

    call_command("migrate", verbosity=0)
    call_command("flush", interactive=False, verbosity=0)


def machine() -> str:
    cpu = subprocess.run(["nproc"], capture_output=True, text=True).stdout.strip()
    return f"{platform.node()}, {cpu} cores, Python {platform.python_version()}"


def timed(func: Callable, repeat: int = 1) -> float:
    """Best wall time of `repeat` calls, in seconds."""
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        func()
        best = min(best, time.perf_counter() - start)
    return best


def rate(func: Callable, seconds: float = 3.0) -> float:
    """Calls per second of `func` over about `seconds`."""
    calls, start = 0, time.perf_counter()
    while (elapsed := time.perf_counter() - start) < seconds:
        func()
        calls += 1
    return calls / elapsed


def table(title: str, header: list[str], rows: list[list]) -> str:
    widths = [max(len(str(c)) for c in col) for col in zip(header, *rows, strict=True)]

    def line(cells):
        return "| " + " | ".join(str(c).ljust(w) for c, w in zip(cells, widths, strict=True)) + " |"

    out = [f"### {title}", "", line(header), "|" + "|".join("-" * (w + 2) for w in widths) + "|"]
    out += [line(r) for r in rows]
    text = "\n".join(out)
    print(text + "\n")
    return text


def count_queries(func: Callable) -> int:
    """How many SQL statements `func` runs (no cap, unlike connection.queries)."""
    from django.db import connection

    count = 0

    def counter(execute, sql, params, many, context):
        nonlocal count
        count += 1
        return execute(sql, params, many, context)

    with connection.execute_wrapper(counter):
        func()
    return count


def captured_sql(func: Callable) -> tuple[str, tuple]:
    """The last SQL statement `func` runs, with its parameters."""
    from django.db import connection

    seen = []

    def keep(execute, sql, params, many, context):
        seen.append((sql, params))
        return execute(sql, params, many, context)

    with connection.execute_wrapper(keep):
        func()
    return seen[-1]
