"""Message.unread_messages: the unread inbox, its count, and marking read."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from devtools.factories import MessageFactory
from messaging import services
from messaging.models import Message, Notification

pytestmark = pytest.mark.django_db


def test_for_user_lists_unread_received_newest_first_with_sender(
    user, other_user, django_assert_num_queries
):
    old, new = MessageFactory.create_batch(2, sender=other_user, receiver=user)
    MessageFactory(sender=other_user, receiver=user, read=True)
    MessageFactory(sender=user, receiver=other_user)
    with django_assert_num_queries(1):
        inbox = list(Message.unread_messages.for_user(user))
        senders = [m.sender.username for m in inbox]
    assert [m.pk for m in inbox] == [new.pk, old.pk]
    assert senders == [other_user.username] * 2


def test_for_user_loads_only_the_inbox_fields(user):
    MessageFactory(receiver=user)
    with CaptureQueriesContext(connection) as queries:
        list(Message.unread_messages.for_user(user))
    sql = queries[0]["sql"]
    assert "password" not in sql
    assert "last_login" not in sql


def test_count_and_unread_only(user):
    MessageFactory.create_batch(3, receiver=user)
    MessageFactory(receiver=user, read=True)
    assert Message.unread_messages.count_for_user(user) == 3
    assert Message.objects.filter(receiver=user).unread_only().count() == 3


def test_mark_as_read_ignores_other_users_messages(user, other_user):
    mine = MessageFactory.create_batch(2, receiver=user)
    theirs = MessageFactory(receiver=other_user)
    for message in [*mine, theirs]:
        services.notifications_create(message_ids=[message.pk])

    updated = services.messages_mark_read(user=user, ids=[mine[0].pk, theirs.pk])

    assert updated == 1
    assert Message.objects.get(pk=mine[0].pk).read
    assert not Message.objects.get(pk=theirs.pk).read
    assert not Message.objects.get(pk=mine[1].pk).read
    assert Notification.objects.get(message=mine[0]).read
    assert not Notification.objects.get(message=theirs).read


def test_mark_all_as_read_returns_how_many_changed(user):
    MessageFactory.create_batch(4, receiver=user)
    assert services.messages_mark_read(user=user) == 4
    assert services.messages_mark_read(user=user) == 0
