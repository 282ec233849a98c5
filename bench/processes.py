"""Processes of the benchmarks: gunicorn, a Celery worker and wrk, on the bench database.

Import after `bench.common.setup()` (or `setup_without_reset()`): the servers get the bench
database and Redis databases through the environment.
"""

import os
import re
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from pathlib import Path

from django.conf import settings

from devtools.processes import relay_command, worker_command

ROOT = Path(__file__).resolve().parent.parent
SECONDS = int(os.environ.get("BENCH_SECONDS", "10"))
ROUNDS = int(os.environ.get("BENCH_ROUNDS", "3"))
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
        # A few users send everything: the per-user limit is checked, never reached.
        "MESSAGE_SEND_RATE": "1000000/min",
        # One user searches hundreds of times a minute (bench/search.py).
        "SEARCH_RATE": "1000000/min",
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


def gunicorn(port: int, *extra_args: str, name: str = "web") -> subprocess.Popen:
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
    return start(name, command, lambda: _answers(port))


def _answers(port: int) -> bool:
    try:
        urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz?only=database", timeout=1)
        return True
    except (urllib.error.URLError, OSError):
        return False


def celery_worker(name: str = "worker", **extra_env) -> subprocess.Popen:
    """A Celery worker, and beside it the outbox relay that publishes its tasks (as the
    Procfile runs them): `.relay` of the process returned, stopped with it."""
    log = LOGS / f"{name}.log"
    command = worker_command(concurrency=os.cpu_count() or 2)
    worker = start(
        name, command, lambda: log.exists() and b" ready." in log.read_bytes(), **extra_env
    )
    worker.relay = relay(f"{name}-relay", **extra_env)
    return worker


def relay(name: str = "relay", **extra_env) -> subprocess.Popen:
    log = LOGS / f"{name}.log"
    return start(
        name,
        relay_command(),
        lambda: log.exists() and b"outbox relay started" in log.read_bytes(),
        **{"LOG_LEVEL": "INFO", **extra_env},
    )


def stop(process: subprocess.Popen) -> None:
    if (sidecar := getattr(process, "relay", None)) is not None:
        stop(sidecar)
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


def interleaved(runs: dict, rounds: int = ROUNDS) -> dict:
    """Run each of `runs` (name -> callable returning wrk's tuple) in turn, `rounds` times.

    Alternating the configurations spreads the machine's drift (other tenants, the
    database's background work) over all of them; each gets the run of median throughput.
    """
    results = {name: [] for name in runs}
    for _ in range(rounds):
        for name, run in runs.items():
            results[name].append(run())
    return {name: sorted(r)[len(r) // 2] for name, r in results.items()}


def _latency(out: str, percentile: str) -> float:
    value, unit = re.search(rf"{percentile}\s+([\d.]+)(us|ms|s)", out).groups()
    return float(value) * {"us": 0.001, "ms": 1, "s": 1000}[unit]


def tree(pid: int) -> list[int]:
    children = subprocess.run(["pgrep", "-P", str(pid)], capture_output=True, text=True)
    return [pid, *(p for c in children.stdout.split() for p in tree(int(c)))]


def rss_mb(pid: int) -> float:
    total = 0
    for p in tree(pid):
        status = Path(f"/proc/{p}/status").read_text()
        total += int(re.search(r"VmRSS:\s+(\d+)", status).group(1))
    return total / 1024


def cpu_seconds(pid: int) -> float:
    ticks = 0
    for p in tree(pid):
        fields = Path(f"/proc/{p}/stat").read_text().rsplit(")", 1)[1].split()
        ticks += int(fields[11]) + int(fields[12])
    return ticks / os.sysconf("SC_CLK_TCK")


def cpu_percent(pid: int, seconds: float) -> float:
    before = cpu_seconds(pid)
    time.sleep(seconds)
    return (cpu_seconds(pid) - before) / seconds * 100
