"""The data plan for a billion messages: `python -m bench.data_plan` (issue 17; figures in
docs/scaling.md).

1. Archiving by partition against today's row-by-row archive, on the same 1,000,000
   messages older than the retention: `archive_old_records` (bench.archive) on the real
   table, against a copy of the schema partitioned by month on `timestamp` (an experiment
   here: the production schema is not partitioned), whose old partitions are detached.
2. The sizes of the message and notification tables and of each of their indexes at
   1,000,000 and 10,000,000 messages (10,000 users, contents of 40 to 120 characters, a
   notification per message), and per message, to extrapolate to a billion.

`--rows N` changes the archive experiment's size, `--sizes A,B` the two measured sizes.
"""

import argparse
import time

from bench.common import machine, setup, table

setup()

from django.db import connection  # noqa: E402

from bench.archive import generate, ours_in_child  # noqa: E402
from devtools.factories import UserFactory  # noqa: E402

PARTITIONED = "bench_partitioned_message"
MONTHS = 15  # monthly partitions: the last 14 months and the next one


def partitioned_copy(rows: int, sender_id: int, receiver_id: int) -> list[str]:
    """The message table partitioned by month, with the same indexes, holding `rows` rows
    400 days old (bench.archive's); returns the partitions' names, oldest first."""
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {PARTITIONED} CASCADE")
        cursor.execute(
            f"CREATE TABLE {PARTITIONED} (LIKE messaging_message INCLUDING DEFAULTS)"
            " PARTITION BY RANGE (timestamp)"
        )
        # A partitioned table's unique keys must hold the partition key.
        cursor.execute(f"ALTER TABLE {PARTITIONED} ADD PRIMARY KEY (id, timestamp)")
        cursor.execute(
            "SELECT indexdef FROM pg_indexes WHERE tablename = 'messaging_message'"
            " AND indexname NOT LIKE '%%pkey'"
        )
        for (definition,) in cursor.fetchall():
            name, _, rest = definition.partition(" ON ")
            table_and_columns = rest.replace("public.messaging_message", PARTITIONED, 1)
            cursor.execute(f"{name}_part ON {table_and_columns}")
        names = []
        for month in range(MONTHS):
            name = f"{PARTITIONED}_{month}"
            cursor.execute(f"DROP TABLE IF EXISTS {name}")  # detached by an earlier run
            cursor.execute(
                f"CREATE TABLE {name} PARTITION OF {PARTITIONED} FOR VALUES FROM"
                f" (date_trunc('month', now()) - interval '{MONTHS - 1 - month} months')"
                f" TO (date_trunc('month', now()) - interval '{MONTHS - 2 - month} months')"
            )
            names.append(name)
        cursor.execute(
            f"""
            INSERT INTO {PARTITIONED}
                (id, sender_id, receiver_id, content, timestamp, edited, read, attachment)
            SELECT n, %s, %s, 'archived message number ' || n, now() - interval '400 days',
                   false, true, ''
            FROM generate_series(1, %s) AS n
            """,
            [sender_id, receiver_id, rows],
        )
        cursor.execute(f"ANALYZE {PARTITIONED}")
    return names


def detach_old(names: list[str], *, copy_to_archive: bool) -> tuple[float, int]:
    """Detach every partition wholly older than 365 days; (seconds, rows moved)."""
    start, moved = time.perf_counter(), 0
    with connection.cursor() as cursor:
        for name in names:
            cursor.execute(
                "SELECT pg_get_expr(relpartbound, oid) FROM pg_class WHERE relname = %s", [name]
            )
            bound = cursor.fetchone()[0]
            upper = bound.split(" TO ('")[1].split("')")[0]
            cursor.execute("SELECT %s::timestamptz <= now() - interval '365 days'", [upper])
            if not cursor.fetchone()[0]:
                continue
            # CONCURRENTLY: readers and writers of the other partitions are not blocked.
            cursor.execute(f"ALTER TABLE {PARTITIONED} DETACH PARTITION {name} CONCURRENTLY")
            cursor.execute(f"SELECT count(*) FROM {name}")
            moved += cursor.fetchone()[0]
            if copy_to_archive:  # today's archive format: a JSON row each, then drop
                cursor.execute(
                    "INSERT INTO maintenance_archivedrecord"
                    " (content_type_id, object_pk, data, archived_at)"
                    " SELECT (SELECT id FROM django_content_type WHERE app_label = 'messaging'"
                    f" AND model = 'message'), t.id::text, to_jsonb(t), now() FROM {name} t"
                )
                cursor.execute(f"DROP TABLE {name}")
    return time.perf_counter() - start, moved


def archive_experiment(rows: int) -> None:
    sender, receiver = UserFactory(password=None), UserFactory(password=None)
    generate(rows, sender.pk, receiver.pk)
    ours, archived, _ = ours_in_child(1000)
    assert archived == rows, archived

    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE maintenance_archivedrecord")  # the same ids are copied again
    results = {}
    for copy in (False, True):
        names = partitioned_copy(rows, sender.pk, receiver.pk)
        results[copy] = detach_old(names, copy_to_archive=copy)
        assert results[copy][1] == rows, results[copy]
    with connection.cursor() as cursor:
        for name in [PARTITIONED, *names]:
            cursor.execute(f"DROP TABLE IF EXISTS {name} CASCADE")
        cursor.execute("TRUNCATE maintenance_archivedrecord")

    def row(name, seconds):
        return [name, f"{seconds:.2f}", f"{rows / seconds:,.0f}", f"{ours / seconds:,.0f}x"]

    table(
        f"Archive {rows:,} messages older than 365 days ({machine()}, PostgreSQL)",
        ["method", "seconds", "rows/s", "faster than today"],
        [
            row("today: archive_old_records, row by row (batches of 1,000)", ours),
            row("partitioned by month: DETACH PARTITION CONCURRENTLY", results[False][0]),
            row("detach, then copy into the archive table as JSON and drop", results[True][0]),
        ],
    )


SIZES = """
SELECT c.relname, c.relkind, pg_relation_size(c.oid)
FROM pg_class c
WHERE c.relname IN ('messaging_message', 'messaging_notification')
   OR c.oid IN (SELECT indexrelid FROM pg_index WHERE indrelid IN
                ('messaging_message'::regclass, 'messaging_notification'::regclass))
ORDER BY c.relkind DESC, c.relname
"""


def grow(users: list[int], first: int, last: int) -> None:
    """Messages number first..last between `users`, each with its notification."""
    with connection.cursor() as cursor:
        cursor.execute(
            """
            INSERT INTO messaging_message
                (sender_id, receiver_id, content, timestamp, edited, read, attachment)
            SELECT u[1 + n %% cardinality(u)], u[1 + (n * 7 + 1) %% cardinality(u)],
                   substr(repeat(md5(n::text), 4), 1, 40 + n %% 81),
                   now() - (n %% 31536000) * interval '1 second', false, n %% 4 <> 0, ''
            FROM generate_series(%s, %s) AS n, (SELECT %s::bigint[] AS u) AS ids
            """,
            [first, last, users],
        )
        cursor.execute(
            """INSERT INTO messaging_notification (user_id, message_id, created_at, read)
               SELECT receiver_id, id, timestamp, read FROM messaging_message
               WHERE id > (SELECT coalesce(max(message_id), 0) FROM messaging_notification)"""
        )
        cursor.execute("VACUUM ANALYZE messaging_message")
        cursor.execute("VACUUM ANALYZE messaging_notification")


def sizes_experiment(sizes: list[int]) -> None:
    with connection.cursor() as cursor:
        cursor.execute("TRUNCATE messaging_message, maintenance_archivedrecord CASCADE")
        cursor.execute(
            """INSERT INTO auth_user (username, password, is_superuser, is_staff, is_active,
                   first_name, last_name, email, date_joined)
               SELECT 'sized' || n, '!', false, false, true, '', '', '', now()
               FROM generate_series(1, 10000) AS n RETURNING id"""
        )
        users = [row[0] for row in cursor.fetchall()]
    measured, done = {}, 0
    for size in sizes:
        start = time.perf_counter()
        grow(users, done + 1, size)
        print(f"{size:,} messages loaded in {time.perf_counter() - start:.0f} s", flush=True)
        done = size
        with connection.cursor() as cursor:
            cursor.execute(SIZES)
            measured[size] = {name: (kind, size_) for name, kind, size_ in cursor.fetchall()}
    small, large = sizes
    rows = []
    for name, (kind, _) in measured[large].items():
        at_small, at_large = measured[small][name][1], measured[large][name][1]
        per_message = at_large / large
        rows.append(
            [
                ("table " if kind == "r" else "index ") + name,
                f"{at_small / 2**20:,.0f}",
                f"{at_large / 2**20:,.0f}",
                f"{per_message:.1f}",
                f"{per_message * 1e9 / 2**30:,.0f}",
            ]
        )
    total = sum(m[1] for m in measured[large].values())
    rows.append(
        [
            "all",
            "",
            f"{total / 2**20:,.0f}",
            f"{total / large:.1f}",
            f"{total / large * 1e9 / 2**30:,.0f}",
        ]
    )
    table(
        f"Sizes of the message and notification tables and their indexes ({machine()})",
        [
            "relation",
            f"MiB at {small:,}",
            f"MiB at {large:,}",
            "bytes per message",
            "GiB at 1,000,000,000",
        ],
        rows,
    )


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=1_000_000)
    parser.add_argument("--sizes", default="1000000,10000000")
    options = parser.parse_args()
    archive_experiment(options.rows)
    sizes_experiment([int(size) for size in options.sizes.split(",")])


if __name__ == "__main__":
    main()
