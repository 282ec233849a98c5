"""Archive 1,000,000 messages on PostgreSQL: archive_old_records against hand-written SQL.

    python -m bench.archive [--rows N] [--batch-size N]

Both archive the same freshly generated rows into maintenance_archivedrecord. The baseline
is one statement, `WITH moved AS (DELETE ... RETURNING *) INSERT ... SELECT`, which does
no batching, no cascade discovery and no check. Peak memory is the archiving process's
maximum resident set size (it runs in a child process of its own).
"""

import argparse
import json
import resource
import subprocess
import sys
import time

from bench.common import machine, setup, table

setup()

from django.contrib.contenttypes.models import ContentType  # noqa: E402
from django.db import connection  # noqa: E402

from devtools.factories import UserFactory  # noqa: E402
from messaging.models import Message  # noqa: E402


def generate(rows: int, sender_id: int, receiver_id: int) -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE messaging_message, maintenance_archivedrecord CASCADE")
        cursor.execute(
            """
            INSERT INTO messaging_message
                (sender_id, receiver_id, content, timestamp, edited, read, attachment)
            SELECT %s, %s, 'archived message number ' || n, now() - interval '400 days',
                   false, true, ''
            FROM generate_series(1, %s) AS n
            """,
            [sender_id, receiver_id, rows],
        )
        cursor.execute("ANALYZE messaging_message")


def baseline() -> float:
    content_type = ContentType.objects.get_for_model(Message).pk
    start = time.perf_counter()
    with connection.cursor() as cursor:
        cursor.execute(
            """
            WITH moved AS (
                DELETE FROM messaging_message
                WHERE timestamp < now() - interval '365 days' RETURNING *
            )
            INSERT INTO maintenance_archivedrecord (content_type_id, object_pk, data, archived_at)
            SELECT %s, moved.id::text, to_jsonb(moved), now() FROM moved
            """,
            [content_type],
        )
    return time.perf_counter() - start


def ours_in_child(batch_size: int) -> tuple[float, int, int]:
    """Run archive_old_records in a child process; (seconds, rows, peak RSS in MiB)."""
    code = (
        "import json, time\n"
        "from bench.common import setup_without_reset\n"
        "setup_without_reset()\n"
        "from maintenance.archive import archive_old_records\n"
        "from messaging.models import Message\n"
        "start = time.perf_counter()\n"
        f"result = archive_old_records(Message, 'timestamp', 365, batch_size={batch_size})\n"
        "print(json.dumps([time.perf_counter() - start, result.total]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    seconds, rows = json.loads(out.stdout.strip().splitlines()[-1])
    peak_mib = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss // 1024
    return seconds, rows, peak_mib


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--batch-size", type=int, default=1000)
    options = parser.parse_args()
    # No password hashing here: Argon2 takes 100 MiB, and a child's peak RSS counts the
    # parent's pages it held between fork and exec.
    sender, receiver = UserFactory(password=None), UserFactory(password=None)

    generate(options.rows, sender.pk, receiver.pk)
    ours, archived, peak = ours_in_child(options.batch_size)
    assert archived == options.rows, archived
    assert not Message.objects.exists()

    generate(options.rows, sender.pk, receiver.pk)
    sql = baseline()
    assert not Message.objects.exists()

    table(
        f"Archive {options.rows:,} messages ({machine()}, PostgreSQL)",
        ["method", "seconds", "rows/s", "peak RSS MiB", "ratio"],
        [
            [
                "SQL baseline (one statement)",
                f"{sql:.1f}",
                f"{options.rows / sql:,.0f}",
                "-",
                "1.0x",
            ],
            [
                f"archive_old_records (batch {options.batch_size})",
                f"{ours:.1f}",
                f"{options.rows / ours:,.0f}",
                peak,
                f"{ours / sql:.1f}x",
            ],
        ],
    )


if __name__ == "__main__":
    main()
