"""A 10,000-message thread of depth 1,000: thread() in one query against a naive fetch.

python -m bench.thread
"""

from bench.common import count_queries, machine, setup, table, timed

setup()

from django.db import connection  # noqa: E402
from django.utils import timezone  # noqa: E402

from devtools.factories import UserFactory  # noqa: E402
from messaging.models import Message  # noqa: E402

SIZE, DEPTH = 10_000, 1_000


def build_thread(a, b) -> Message:
    start = timezone.now() - timezone.timedelta(days=1)
    [root] = Message.objects.bulk_create(
        [Message(sender=a, receiver=b, content="root", timestamp=start)]
    )
    chain = [root]
    for level in range(1, DEPTH + 1):
        sender, receiver = (b, a) if level % 2 else (a, b)
        chain += Message.objects.bulk_create(
            [
                Message(
                    sender=sender,
                    receiver=receiver,
                    content=f"level {level}",
                    parent_message=chain[-1],
                    timestamp=start + timezone.timedelta(seconds=level),
                )
            ]
        )
    Message.objects.bulk_create(
        [
            Message(
                sender=b,
                receiver=a,
                content=f"aside {i}",
                parent_message=chain[i % DEPTH],
                timestamp=start + timezone.timedelta(seconds=DEPTH + i),
            )
            for i in range(SIZE - len(chain))
        ],
        batch_size=2000,
    )
    return chain[-1]


def naive(message_id: int) -> list[Message]:
    """What the seed did: walk up parent by parent, then fetch replies message by message."""
    message = Message.objects.select_related("sender", "receiver").get(pk=message_id)
    while message.parent_message_id:
        message = Message.objects.select_related("sender", "receiver").get(
            pk=message.parent_message_id
        )
    out, stack = [], [message]
    while stack:
        current = stack.pop()
        out.append(current)
        replies = current.replies.select_related("sender", "receiver").order_by("-timestamp")
        stack.extend(replies)
    return out


def main():
    leaf = build_thread(UserFactory(), UserFactory())
    assert len(Message.objects.thread(leaf.pk)) == SIZE
    assert len(naive(leaf.pk)) == SIZE
    cte = timed(lambda: Message.objects.thread(leaf.pk), repeat=3)
    slow = timed(lambda: naive(leaf.pk), repeat=1)
    rows = [
        [
            "thread() (recursive CTE)",
            count_queries(lambda: Message.objects.thread(leaf.pk)),
            f"{cte * 1000:.0f}",
            "1.0x",
        ],
        [
            "naive, query per message",
            count_queries(lambda: naive(leaf.pk)),
            f"{slow * 1000:.0f}",
            f"{slow / cte:.1f}x slower",
        ],
    ]
    table(
        f"Thread of {SIZE:,} messages, depth {DEPTH:,} ({machine()}, {connection.vendor})",
        ["fetch", "queries", "ms", "ratio"],
        rows,
    )


if __name__ == "__main__":
    main()
