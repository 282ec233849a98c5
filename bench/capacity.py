"""Per-core costs of the platform's work, and the machines 10 million users would need:
`python -m bench.capacity` (issue 17; figures in docs/scaling.md).

One gunicorn process (so at most one core) serves wrk's requests; the CPU time each process
spends (web, PostgreSQL, Redis, worker) is read from /proc before and after, and divided by
the requests or tasks done: milliseconds of CPU per operation, whatever else the machine's
2 cores were doing. Sends run with the worker stopped (their tasks wait in Redis), then the
worker drains them: its CPU per notification task.

The sizing table applies the workload of the issue (WORKLOAD below) to those costs, with
each tier's cores kept at TARGET_UTILISATION at the peak.
"""

import math
from pathlib import Path

from bench.common import machine, setup, table

setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from bench.data import load_users, wait_until_notified  # noqa: E402
from bench.processes import SECONDS, celery_worker, cpu_seconds, gunicorn, stop, wrk  # noqa: E402

PORT = 8311
TARGET_UTILISATION = 0.6
WORKLOAD = {
    "users": 10_000_000,
    "active a day": 1_000_000,
    "messages per active user a day": 100,
    "peak over mean": 5,
    # Each message changes two lists (the receiver's and the sender's open pages reload
    # theirs, or the next visit recomputes them): two uncached reads per send.
    "uncached reads per send": 2,
    # Pages opened without a change since the last visit: served from the per-user cache.
    "cached reads per active user a day": 50,
    # Share of the day's active users with a page open at the peak: one event stream each.
    "open at the peak": 0.2,
}


def postgres_pid() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SHOW data_directory")
        (directory,) = cursor.fetchone()
    return int(Path(directory, "postmaster.pid").read_text().split()[0])


def redis_pid() -> int:
    return int(redis.Redis.from_url(settings.REDIS_URL).info("server")["process_id"])


class CPU:
    """CPU seconds spent by process trees between `start()` and `stop()`."""

    def __init__(self, **pids: int):
        self.pids = pids

    def _read(self) -> dict[str, float]:
        return {name: cpu_seconds(pid) for name, pid in self.pids.items()}

    def __enter__(self):
        self.before = self._read()
        return self

    def __exit__(self, *exc):
        after = self._read()
        self.spent = {name: after[name] - self.before[name] for name in self.pids}


def per_op(spent: dict[str, float], operations: float) -> dict[str, float]:
    return {name: seconds * 1000 / operations for name, seconds in spent.items()}


def main():
    users, tokens = load_users(100, 1000)
    ids = ",".join(str(u.pk) for u in users)
    pids = {"postgres": postgres_pid(), "redis": redis_pid()}
    web = gunicorn(PORT, "--workers", "1")
    costs = {}  # operation -> {tier: CPU ms}
    rates = {}
    try:
        tokens_env = ",".join(tokens)
        wrk(PORT, "inbox.lua", seconds=3, connections=4, TOKENS=tokens_env)  # warm up
        runs = {
            "send (POST /api/v1/messages/)": ("send.lua", {"USERS": ids}),
            "inbox read, uncached": ("inbox.lua", {"UNCACHED": "1"}),
            "inbox read, cached": ("inbox.lua", {}),
        }
        for name, (script, extra) in runs.items():
            with CPU(web=web.pid, **pids) as cpu:
                rps, _, p99, errors = wrk(PORT, script, connections=4, TOKENS=tokens_env, **extra)
            assert errors == 0, f"{name}: {errors} errors"
            costs[name] = per_op(cpu.spent, rps * SECONDS)
            rates[name] = (rps, p99)
    finally:
        stop(web)

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM messaging_message m WHERE NOT EXISTS"
            " (SELECT 1 FROM messaging_notification n WHERE n.message_id = m.id)"
        )
        (queued,) = cursor.fetchone()
    worker = celery_worker()
    try:
        with CPU(worker=worker.pid, **pids) as cpu:
            assert wait_until_notified(seconds=600) == 0
        costs["notification task (worker)"] = per_op(cpu.spent, queued)
    finally:
        stop(worker)

    rows = []
    for name, tiers in costs.items():
        own = tiers.get("web", tiers.get("worker"))
        rps, p99 = rates.get(name, (None, None))
        rows.append(
            [
                name,
                f"{own:.2f}",
                f"{1000 / own:,.0f}",
                f"{tiers['postgres']:.2f}",
                f"{tiers['redis']:.3f}",
                f"{rps:,.0f}" if rps else f"{queued:,} tasks",
                f"{p99:.1f}" if p99 else "-",
            ]
        )
    table(
        f"CPU per operation ({machine()}; web: one gunicorn sync process, wrk -c4 "
        f"{SECONDS} s; worker: {queued:,} queued tasks drained by one worker, 2 processes)",
        [
            "operation",
            "web or worker CPU ms",
            "per core per second",
            "PostgreSQL CPU ms",
            "Redis CPU ms",
            "measured rate /s",
            "p99 ms",
        ],
        rows,
    )
    sizing(costs)


def sizing(costs: dict) -> None:
    w = WORKLOAD
    sends_mean = w["active a day"] * w["messages per active user a day"] / 86_400
    sends = sends_mean * w["peak over mean"]
    uncached = sends * w["uncached reads per send"]
    cached = w["active a day"] * w["cached reads per active user a day"] / 86_400
    cached *= w["peak over mean"]
    send, miss, hit, task = (
        costs["send (POST /api/v1/messages/)"],
        costs["inbox read, uncached"],
        costs["inbox read, cached"],
        costs["notification task (worker)"],
    )

    def cores(ms_per_second: float) -> int:
        return math.ceil(ms_per_second / 1000 / TARGET_UTILISATION)

    web = sends * send["web"] + uncached * miss["web"] + cached * hit["web"]
    workers = sends * task["worker"]
    primary = sends * (send["postgres"] + task["postgres"])
    replicas = uncached * miss["postgres"] + cached * hit["postgres"]
    broker = sends * (send["redis"] + task["redis"])
    cache = uncached * miss["redis"] + cached * hit["redis"]
    table(
        f"At the peak: {sends:,.0f} sends/s ({sends_mean:,.0f} mean x "
        f"{w['peak over mean']}), {uncached:,.0f} uncached and {cached:,.0f} cached reads/s, "
        f"{sends:,.0f} notification tasks/s; cores at {TARGET_UTILISATION:.0%}",
        ["tier", "CPU ms per second", "cores"],
        [
            ["web (gunicorn sync processes)", f"{web:,.0f}", cores(web)],
            ["Celery workers", f"{workers:,.0f}", cores(workers)],
            ["PostgreSQL primary (writes)", f"{primary:,.0f}", cores(primary)],
            ["PostgreSQL replicas (reads)", f"{replicas:,.0f}", cores(replicas)],
            ["Redis broker (one thread)", f"{broker:,.0f}", f"{broker / 1000:.2f} of one"],
            ["Redis cache (one thread)", f"{cache:,.0f}", f"{cache / 1000:.2f} of one"],
        ],
    )
    print(f"open event streams at the peak: {w['active a day'] * w['open at the peak']:,.0f}")


if __name__ == "__main__":
    main()
