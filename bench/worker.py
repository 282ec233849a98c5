"""Notification tasks through a real worker: tasks per second and machine CPU per task.

python -m bench.worker

Publishes TASKS create_notification tasks while the worker is stopped, then times the drain
and the CPU the whole machine spent on it (worker, PostgreSQL, Redis): once with Celery's
default database handling (a connection per task, CELERY_DB_REUSE_MAX=0) and once as
configured (core/worker_db.py).
"""

import os
import signal
import time

from bench.common import machine, setup, table

setup()

import redis  # noqa: E402
from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402

from bench.processes import celery_worker, stop  # noqa: E402
from devtools.factories import UserFactory  # noqa: E402
from messaging.models import Notification  # noqa: E402
from messaging.tasks import create_notification  # noqa: E402

TASKS = int(os.environ.get("BENCH_TASKS", "5000"))


def busy_seconds() -> float:
    """CPU seconds the machine has spent outside idle and I/O wait since boot."""
    with open("/proc/stat") as stat:
        jiffies = [int(v) for v in stat.readline().split()[1:]]
    return (sum(jiffies) - jiffies[3] - jiffies[4]) / os.sysconf("SC_CLK_TCK")


def drain(message_ids: list[int], **worker_env) -> list:
    Notification.objects.all().delete()
    worker = celery_worker(**worker_env)
    try:
        os.kill(worker.pid, signal.SIGSTOP)
        for message_id in message_ids:
            create_notification.apply_async((message_id,))
        began, cpu = time.monotonic(), busy_seconds()
        os.kill(worker.pid, signal.SIGCONT)
        while Notification.objects.count() < len(message_ids):
            time.sleep(0.05)
        seconds, cpu = time.monotonic() - began, busy_seconds() - cpu
    finally:
        os.kill(worker.pid, signal.SIGCONT)
        stop(worker)
    return [f"{len(message_ids) / seconds:.0f}", f"{cpu / len(message_ids) * 1000:.2f}"]


def main():
    redis.Redis.from_url(settings.REDIS_URL).flushdb()
    sender, receiver = UserFactory(), UserFactory()
    with connection.cursor() as cursor:
        cursor.execute(
            """INSERT INTO messaging_message
                   (sender_id, receiver_id, content, timestamp, edited, read, attachment)
               SELECT %s, %s, 'hello ' || n, now(), false, false, ''
               FROM generate_series(1, %s) AS n RETURNING id""",
            [sender.pk, receiver.pk, TASKS],
        )
        message_ids = [row[0] for row in cursor.fetchall()]
    before = drain(message_ids, CELERY_DB_REUSE_MAX="0")
    after = drain(message_ids)
    table(
        f"{TASKS:,} notification tasks, one worker with a process per core ({machine()})",
        ["database connections", "tasks/s", "machine CPU ms per task"],
        [
            ["Celery's default: a new connection per task", *before],
            ["kept across tasks (core/worker_db.py)", *after],
        ],
    )


if __name__ == "__main__":
    main()
