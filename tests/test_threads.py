"""Message.objects.thread() and conversation(): whole threads in one query, in display order."""

import pytest
from django.utils import timezone

from devtools.factories import MessageFactory
from messaging.models import Message

pytestmark = pytest.mark.django_db


def make_thread(a, b, *, size: int, depth: int) -> list[Message]:
    """A thread of `size` messages whose longest chain has `depth` replies below the root."""
    start = timezone.now() - timezone.timedelta(days=1)
    rows = [Message(sender=a, receiver=b, content="root", timestamp=start)]
    Message.objects.bulk_create(rows)
    chain = [rows[0]]
    for level in range(1, depth + 1):
        parent = chain[-1]
        sender, receiver = (b, a) if level % 2 else (a, b)
        [reply] = Message.objects.bulk_create(
            [
                Message(
                    sender=sender,
                    receiver=receiver,
                    content=f"level {level}",
                    parent_message=parent,
                    timestamp=start + timezone.timedelta(seconds=level),
                )
            ]
        )
        chain.append(reply)
    extra = [
        Message(
            sender=b,
            receiver=a,
            content=f"aside {i}",
            # Below any message but the deepest, so the longest chain stays `depth` long.
            parent_message=chain[i % max(len(chain) - 1, 1)],
            timestamp=start + timezone.timedelta(seconds=depth + i + 1),
        )
        for i in range(size - len(chain))
    ]
    Message.objects.bulk_create(extra, batch_size=500)
    return chain


@pytest.mark.parametrize(("size", "depth"), [(1, 0), (100, 1), (100, 99), (1000, 1), (1000, 500)])
def test_whole_thread_in_one_query(user, other_user, django_assert_num_queries, size, depth):
    chain = make_thread(user, other_user, size=size, depth=depth)
    with django_assert_num_queries(1):
        thread = Message.objects.thread(chain[-1].pk)
        usernames = {(m.sender.username, m.receiver.username) for m in thread}
    assert len(thread) == size
    assert thread[0].pk == chain[0].pk
    assert max(m.depth for m in thread) == depth
    assert usernames <= {(user.username, other_user.username), (other_user.username, user.username)}


def test_thread_is_in_depth_first_order_with_siblings_by_time(user, other_user):
    now = timezone.now()
    root = MessageFactory(sender=user, receiver=other_user, timestamp=now)
    late = MessageFactory(
        sender=other_user, receiver=user, parent_message=root, timestamp=now.replace(second=59)
    )
    early = MessageFactory(
        sender=other_user, receiver=user, parent_message=root, timestamp=now.replace(second=1)
    )
    under_early = MessageFactory(sender=user, receiver=other_user, parent_message=early)
    thread = Message.objects.thread(late.pk)
    assert [(m.pk, m.depth) for m in thread] == [
        (root.pk, 0),
        (early.pk, 1),
        (under_early.pk, 2),
        (late.pk, 1),
    ]


def test_thread_of_a_missing_message_is_empty():
    assert Message.objects.thread(123456) == []


def test_conversation_query_count_does_not_grow(user, other_user, django_assert_num_queries):
    for _ in range(3):
        make_thread(user, other_user, size=20, depth=5)
    MessageFactory(sender=user)  # another conversation, not part of this one
    with django_assert_num_queries(2):
        threads = Message.objects.conversation(user, other_user)
    assert [len(t) for t in threads] == [20, 20, 20]
    assert all(t[0].depth == 0 for t in threads)
    for _ in range(3):
        make_thread(other_user, user, size=50, depth=10)
    with django_assert_num_queries(2):
        assert len(Message.objects.conversation(other_user, user)) == 6
