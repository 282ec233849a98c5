"""archive_old_records and restore_archived_records on the real database."""

import threading
from datetime import timedelta

import pytest
from django.core.files.base import ContentFile
from django.db import connection
from django.db.models import Q
from django.utils import timezone

from devtools.factories import MessageFactory, UserFactory
from files import lifecycle as files
from maintenance.models import ArchivedRecord
from maintenance.utils import archive_old_records, restore_archived_records
from messaging import services
from messaging.models import Message, MessageHistory, Notification
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

OLD = timezone.now() - timedelta(days=400)


def old_thread(user, other_user, replies: int = 2) -> Message:
    root = MessageFactory(sender=user, receiver=other_user, timestamp=OLD)
    parent = root
    for _ in range(replies):
        parent = MessageFactory(
            sender=other_user,
            receiver=user,
            parent_message=parent,
            timestamp=timezone.now(),  # recent replies still go with their old root
        )
    for message in Message.objects.all():
        services.notifications_create(message_ids=[message.pk])
    MessageHistory.objects.create(message=root, old_content="v0", edited_at=OLD)
    return root


def test_old_rows_are_archived_with_their_cascades(user, other_user):
    root = old_thread(user, other_user)
    recent = MessageFactory(sender=user, receiver=other_user)
    services.notifications_create(message_ids=[recent.pk])

    result = archive_old_records(Message, "timestamp", 365)

    assert dict(result.archived) == {
        "messaging.Message": 3,
        "messaging.Notification": 3,
        "messaging.MessageHistory": 1,
    }
    assert result.batches == 1
    assert list(Message.objects.values_list("pk", flat=True)) == [recent.pk]
    assert Notification.objects.count() == 1
    archived_root = ArchivedRecord.objects.get(
        object_pk=str(root.pk), content_type__model="message"
    )
    assert archived_root.data["fields"]["content"] == root.content


def test_filters_narrow_what_is_archived(user, other_user):
    mine = MessageFactory(sender=user, receiver=other_user, timestamp=OLD)
    theirs = MessageFactory(sender=other_user, receiver=user, timestamp=OLD)
    archive_old_records(Message, "timestamp", 365, filters={"sender": user})
    assert not Message.objects.filter(pk=mine.pk).exists()
    archive_old_records(Message, "timestamp", 365, filters=Q(sender=user))
    assert Message.objects.filter(pk=theirs.pk).exists()


def test_dry_run_counts_and_changes_nothing(user, other_user):
    old_thread(user, other_user)
    result = archive_old_records(Message, "timestamp", 365, dry_run=True)
    assert result.archived["messaging.Message"] == 3
    assert result.archived["messaging.Notification"] == 3
    assert Message.objects.count() == 3
    assert not ArchivedRecord.objects.exists()


def test_batches_archive_every_row_once(user, other_user):
    MessageFactory.create_batch(25, sender=user, receiver=other_user, timestamp=OLD)
    result = archive_old_records(Message, "timestamp", 365, batch_size=10)
    assert result.batches == 3
    assert result.total == 25
    assert ArchivedRecord.objects.count() == 25


def test_restore_puts_rows_back_with_their_primary_keys(user, other_user):
    root = old_thread(user, other_user)
    before = {
        model: sorted(model.objects.values_list("pk", flat=True))
        for model in (Message, Notification, MessageHistory)
    }
    archive_old_records(Message, "timestamp", 365)
    restored = restore_archived_records(run=None, model=None)
    assert restored["messaging.Message"] == 3
    after = {
        model: sorted(model.objects.values_list("pk", flat=True))
        for model in (Message, Notification, MessageHistory)
    }
    assert after == before
    assert Message.objects.get(pk=root.pk).content == root.content
    assert not ArchivedRecord.objects.exists()


def test_archive_and_restore_refresh_the_cached_inboxes(
    user, other_user, django_capture_on_commit_callbacks
):
    root = old_thread(user, other_user, replies=0)
    third = UserFactory()
    untouched = MessageFactory(sender=third, receiver=other_user, timestamp=OLD + timedelta(1))

    def inbox_ids(reader):
        return [m["id"] for m in client_for(reader).get("/api/v1/messages/").json()["results"]]

    assert inbox_ids(other_user) == [untouched.pk, root.pk]  # now cached
    with django_capture_on_commit_callbacks(execute=True):
        archive_old_records(Message, "timestamp", 365, filters={"sender": user})
    assert inbox_ids(other_user) == [untouched.pk]
    with django_capture_on_commit_callbacks(execute=True):
        restore_archived_records(model=Message)
    assert inbox_ids(other_user) == [untouched.pk, root.pk]


def test_archived_attachments_are_kept_and_still_referenced(user, other_user):
    message = services.message_send(
        sender=user,
        receiver=other_user,
        content="file",
        attachment=ContentFile(b"data", name="a.txt"),
    )
    Message.objects.filter(pk=message.pk).update(timestamp=OLD)
    archive_old_records(Message, "timestamp", 365)
    name = message.attachment.name
    assert files.referenced([name]) == {name}
    assert files.delete_unreferenced([name])["deleted"] == 0


def test_unknown_date_field_is_refused():
    from django.core.exceptions import FieldDoesNotExist

    with pytest.raises(FieldDoesNotExist):
        archive_old_records(Message, "created", 365)


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_neither_duplicate_nor_lose_a_row():
    users = UserFactory.create_batch(4)
    for i in range(300):
        root = MessageFactory(sender=users[i % 4], receiver=users[(i + 1) % 4], timestamp=OLD)
        if i % 3 == 0:
            MessageFactory(
                sender=users[(i + 1) % 4],
                receiver=users[i % 4],
                parent_message=root,
                timestamp=OLD,
            )
    total = Message.objects.count()
    errors, results = [], []

    def run():
        try:
            results.append(archive_old_records(Message, "timestamp", 365, batch_size=20))
        except Exception as error:  # surfaced below
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)

    assert errors == []
    assert Message.objects.count() == 0
    archived = ArchivedRecord.objects.filter(content_type__model="message")
    assert archived.count() == total
    assert sum(r.archived["messaging.Message"] for r in results) == total


def test_a_relation_that_would_be_changed_rather_than_deleted_is_refused(user, other_user):
    from django.contrib.auth import get_user_model

    from maintenance.archive import ArchiveError

    message = MessageFactory(sender=other_user, receiver=UserFactory())
    MessageHistory.objects.create(
        message=message, old_content="x", edited_at=timezone.now(), edited_by=user
    )
    get_user_model().objects.filter(pk=user.pk).update(date_joined=OLD)
    with pytest.raises(ArchiveError, match="on_delete=SET_NULL"):
        archive_old_records(get_user_model(), "date_joined", 365, filters={"pk": user.pk})
    assert get_user_model().objects.filter(pk=user.pk).exists()


def test_restoring_a_message_brings_back_what_was_archived_with_it(user, other_user):
    root = old_thread(user, other_user, replies=2)
    other = old_thread(other_user, user, replies=0)
    thread = set(Message.objects.exclude(pk=other.pk).values_list("pk", flat=True))
    archive_old_records(Message, "timestamp", 365)
    assert not Message.objects.exists()

    restored = restore_archived_records(model=Message, object_pks=[root.pk])

    assert restored == {
        "messaging.Message": 3,
        "messaging.Notification": 3,
        "messaging.MessageHistory": 1,
    }
    assert set(Message.objects.values_list("pk", flat=True)) == thread
    assert set(Notification.objects.values_list("message_id", flat=True)) == thread
    assert MessageHistory.objects.get().message_id == root.pk
    left = ArchivedRecord.objects.values_list("content_type__model", "data__fields__message_id")
    assert sorted(left, key=str) == sorted(
        [("message", None), ("notification", other.pk), ("messagehistory", other.pk)], key=str
    )


def test_restoring_a_model_brings_back_every_dependent(user, other_user):
    old_thread(user, other_user, replies=1)
    archive_old_records(Message, "timestamp", 365)
    restored = restore_archived_records(model=Message)
    assert restored["messaging.Notification"] == 2
    assert restored["messaging.MessageHistory"] == 1
    assert not ArchivedRecord.objects.exists()
