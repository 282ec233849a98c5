"""The unread count on 100,000 messages reads the partial index, not the table.

python -m bench.unread_plan
"""

import random

from bench.common import captured_sql, machine, setup, table, timed

setup()

from django.db import connection  # noqa: E402

from devtools.factories import UserFactory  # noqa: E402
from messaging.models import Message  # noqa: E402

MESSAGES, USERS = 100_000, 200


def main():
    users = UserFactory.create_batch(USERS)
    rng = random.Random(1)
    Message.objects.bulk_create(
        [
            Message(
                sender=users[i % USERS],
                receiver=users[(i * 7 + 1) % USERS],
                content="x" * 200,
                read=rng.random() < 0.9,  # most messages of a live system have been read
            )
            for i in range(MESSAGES)
        ],
        batch_size=5000,
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE messaging_message")
    reader = users[3]
    sql, params = captured_sql(lambda: Message.unread_messages.count_for_user(reader))
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    print(sql % params, "\n", plan, "\n", sep="")
    used = "msg_unread" in plan and "Seq Scan" not in plan
    seconds = timed(lambda: Message.unread_messages.count_for_user(reader), repeat=20)
    table(
        f"Unread count on {MESSAGES:,} messages ({machine()}, {connection.vendor})",
        ["query", "plan uses msg_unread", "sequential scan", "best ms"],
        [
            [
                "count_for_user",
                "yes" if used else "NO",
                "yes" if "Seq Scan" in plan else "no",
                f"{seconds * 1000:.2f}",
            ]
        ],
    )


if __name__ == "__main__":
    main()
