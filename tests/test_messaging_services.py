"""The logic of the messaging tasks and services, called directly."""

from datetime import timedelta

import psycopg
import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.utils import timezone

from accounts import services as account_services
from accounts.models import AccountDeletion
from core.models import OutboxRow
from devtools.factories import PASSWORD, MessageFactory, UserFactory
from messaging import services, tasks
from messaging.models import Message, MessageHistory, Notification
from tests import effects, servers

pytestmark = pytest.mark.django_db


def test_notification_task_twice_leaves_one_notification():
    message = MessageFactory()
    tasks.create_notification(message.pk)
    tasks.create_notification(message.pk)
    assert list(Notification.objects.values_list("user_id", "message_id")) == [
        (message.receiver_id, message.pk)
    ]


def test_notification_task_skips_a_message_that_is_gone():
    message = MessageFactory()
    message_id = message.pk
    message.delete()
    tasks.create_notification(message_id)
    assert not Notification.objects.exists()


def test_each_edit_sets_edited_and_its_time(user):
    message = MessageFactory(sender=user, content="first")
    with_edits = []
    for content in ("second", "third"):
        services.message_edit(message=message, editor=user, content=content)
        with_edits.append(message.__class__.objects.get(pk=message.pk))
    # The pre_save receiver staged each edit; write them as the task would.
    assert [m.content for m in with_edits] == ["second", "third"]
    assert all(m.edited and m.edited_at for m in with_edits)


def test_history_task_twice_writes_one_row(user):
    message = MessageFactory(sender=user)
    edited_at = timezone.now().isoformat()
    for _ in range(2):
        tasks.record_edit(message.pk, "old", edited_at, user.pk)
    assert list(MessageHistory.objects.values_list("old_content", "edited_by_id")) == [
        ("old", user.pk)
    ]


def test_only_the_sender_may_edit(user, other_user):
    message = MessageFactory(sender=user, receiver=other_user)
    from django.core.exceptions import PermissionDenied

    with pytest.raises(PermissionDenied):
        services.message_edit(message=message, editor=other_user, content="hijacked")
    assert Message.objects.get(pk=message.pk).content == message.content


@pytest.mark.parametrize(
    ("content", "error"),
    [("   ", "must not be empty"), ("x" * 10_001, "at most 10000 characters")],
)
def test_invalid_content_never_reaches_the_database(user, other_user, content, error):
    with pytest.raises(ValidationError, match=error):
        Message.objects.create(sender=user, receiver=other_user, content=content)
    assert not Message.objects.exists()


def test_inactive_receiver_is_refused(user):
    ghost = UserFactory(is_active=False)
    with pytest.raises(ValidationError, match="not active"):
        services.message_send(sender=user, receiver=ghost, content="hello?")


def test_reply_outside_the_threads_pair_is_refused(user, other_user):
    root = MessageFactory(sender=user, receiver=other_user)
    outsider = UserFactory()
    with pytest.raises(ValidationError, match="stay between"):
        services.message_send(sender=outsider, receiver=user, content="me too", parent_message=root)


def test_account_delete_refuses_a_wrong_password(user):
    with pytest.raises(ValidationError, match="not correct"):
        account_services.account_delete(user=user, password="wrong")
    user.refresh_from_db()
    assert user.is_active


def test_account_delete_locks_the_account_at_once(user):
    account_services.account_delete(user=user, password=PASSWORD)
    user.refresh_from_db()
    assert not user.is_active
    assert not user.has_usable_password()
    assert AccountDeletion.objects.filter(user=user).exists()


def test_purge_removes_everything_of_the_user_and_nothing_else(user, other_user):
    third = UserFactory()
    theirs = [MessageFactory(sender=user, receiver=other_user) for _ in range(5)]
    theirs += [MessageFactory(sender=other_user, receiver=user) for _ in range(4)]
    reply = MessageFactory(sender=other_user, receiver=user, parent_message=theirs[0])
    kept = MessageFactory(sender=other_user, receiver=third)
    for message in [*theirs, reply, kept]:
        services.notifications_create(message_ids=[message.pk])
    services.history_record(
        message_id=theirs[1].pk,
        old_content="x",
        edited_at=timezone.now().isoformat(),
        editor_id=user.pk,
    )

    deleted = account_services.account_purge(user_id=user.pk, batch_size=3)

    assert deleted == 10
    assert list(Message.objects.values_list("pk", flat=True)) == [kept.pk]
    assert list(Notification.objects.values_list("message_id", flat=True)) == [kept.pk]
    assert not MessageHistory.objects.exists()
    assert not type(user).objects.filter(pk=user.pk).exists()


def test_reconcile_creates_exactly_the_missing_notifications_and_announces_them():
    old = timezone.now() - services.RECONCILE_GRACE - timedelta(seconds=1)
    messages = MessageFactory.create_batch(5, timestamp=old)
    recent = MessageFactory()  # its notification may still be on its way: left alone
    services.notifications_create(message_ids=[messages[0].pk])
    OutboxRow.objects.all().delete()  # as if a path had bypassed the outbox
    assert services.notifications_reconcile(batch_size=2) == 4
    assert Notification.objects.count() == 5
    assert not Notification.objects.filter(message=recent).exists()
    assert services.notifications_reconcile() == 0
    announced = [p["ids"] for _, p in effects.recorded("messaging.notifications_created")]
    assert [len(ids) for ids in announced] == [2, 2]  # a row for each batch


@pytest.mark.django_db(transaction=True)
def test_a_notification_the_worker_writes_while_its_message_is_deleted_goes_with_it():
    # Saved without signals: no notification task, so the test's second connection is the
    # only writer of this message's notification (a running worker would be another).
    (message,) = Message.objects.bulk_create(
        [MessageFactory.build(sender=UserFactory(), receiver=UserFactory())]
    )
    with transaction.atomic():
        # Django's collector deletes a message's notifications first...
        Notification.objects.filter(message=message).delete()
        # ...the worker's notification commits in between, on its own connection...
        with psycopg.connect(servers.test_database_url(), autocommit=True) as worker:
            worker.execute(
                """INSERT INTO messaging_notification (user_id, message_id, created_at, read)
                   VALUES (%s, %s, now(), false)""",
                [message.receiver_id, message.pk],
            )
        # ...then the message goes; the commit used to fail on the foreign key.
        Message.objects.filter(pk=message.pk)._raw_delete(connection.alias)
    assert not Message.objects.filter(pk=message.pk).exists()
    assert not Notification.objects.filter(message_id=message.pk).exists()
