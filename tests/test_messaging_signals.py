"""Every write records its effects in the outbox, in its own transaction: the services
themselves, and the receivers for what does not come through them (the admin, a script)."""

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts import services as account_services
from accounts.models import AccountDeletion
from devtools.factories import MessageFactory
from messaging import services
from messaging.models import Conversation, Message, MessageHistory
from tests import effects

pytestmark = pytest.mark.django_db


def topics() -> list[str]:
    return [topic for topic, _ in effects.recorded()]


def test_a_send_records_its_events_and_its_notification(user, other_user):
    message = services.message_send(sender=user, receiver=other_user, content="hi")
    assert effects.recorded() == [
        ("messaging.message_sent", {"message_id": message.pk}),
        ("messaging.create_notifications", {"message_id": message.pk}),
    ]


def test_an_edit_records_the_old_content_for_the_history_task(user, other_user):
    message = MessageFactory(sender=user, receiver=other_user, content="before")
    effects.deliver()
    edited = services.message_edit(message=message, editor=user, content="after")
    assert effects.recorded() == [
        (
            "messaging.record_edit",
            {
                "message_id": message.pk,
                "old_content": "before",
                "edited_at": edited.edited_at.isoformat(),
                "editor_id": user.pk,
            },
        ),
    ]
    assert Message.objects.get(pk=message.pk).edited
    effects.deliver()
    assert MessageHistory.objects.get(message=message).old_content == "before"


def test_the_history_task_announces_the_edit_once_the_version_is_written(user, other_user):
    message = MessageFactory(sender=user, receiver=other_user, content="before")
    effects.deliver()
    edited = services.message_edit(message=message, editor=user, content="after")
    [(_, edit)] = effects.recorded("messaging.record_edit")
    services.history_record(**edit)
    assert effects.recorded("messaging.message_edited") == [
        ("messaging.message_edited", {"message_id": message.pk})
    ]
    services.history_record(**edit)  # run twice: written and announced once
    assert len(effects.recorded("messaging.message_edited")) == 1
    assert edited.edited


def test_an_edit_outside_the_services_is_recorded_by_the_receiver(user, other_user):
    message = MessageFactory(sender=user, receiver=other_user, content="before")
    effects.deliver()
    message.content = "after, in the admin"
    message.save()
    assert topics() == ["messaging.record_edit"]
    assert Message.objects.get(pk=message.pk).edited


def test_a_message_created_outside_the_services_is_recorded_by_the_receiver(user, other_user):
    message = Message.objects.create(sender=user, receiver=other_user, content="admin")
    assert effects.recorded() == [
        ("messaging.refresh_conversations", {"pairs": [sorted([user.pk, other_user.pk])]}),
        ("messaging.message_sent", {"message_id": message.pk}),
        ("messaging.create_notifications", {"message_id": message.pk}),
    ]
    effects.deliver()
    assert Conversation.objects.get(owner=user).other_id == other_user.pk


def test_saving_unchanged_content_is_not_an_edit(user):
    message = MessageFactory(sender=user)
    effects.deliver()
    message.read = True
    message.save()
    assert effects.recorded() == []
    assert not Message.objects.get(pk=message.pk).edited


@pytest.mark.parametrize("through_service", [True, False])
def test_a_rolled_back_write_records_nothing(user, other_user, through_service):
    def send_then_fail():
        with transaction.atomic():
            if through_service:
                services.message_send(sender=user, receiver=other_user, content="hi")
            else:
                Message.objects.create(sender=user, receiver=other_user, content="hi")
            raise RuntimeError("rollback")

    with pytest.raises(RuntimeError):
        send_then_fail()
    assert effects.recorded() == []
    assert not Message.objects.exists()


def test_admin_style_user_deletion_hands_the_user_to_the_purge(user):
    user_id = user.pk
    user.delete()
    assert ("accounts.purge_account", {"user_id": user_id}) in effects.recorded()


def test_account_deletion_hands_the_user_to_the_purge(user):
    user.set_password("pw")
    user.save()
    account_services.account_delete(user=user, password="pw")
    assert effects.recorded() == [("accounts.purge_account", {"user_id": user.pk})]
    assert AccountDeletion.objects.filter(user=user).exists()


def test_a_purge_deleting_its_user_queues_no_second_purge(user, other_user):
    MessageFactory.create_batch(3, sender=user, receiver=other_user)
    effects.deliver()
    AccountDeletion.objects.create(user=user)
    account_services.account_purge(user_id=user.pk)
    assert not type(user).objects.filter(pk=user.pk).exists()
    assert "accounts.purge_account" not in topics()
    assert "messaging.messages_deleted" in topics()


def test_saving_an_edit_reads_the_stored_row_once(user, other_user):
    message = MessageFactory(
        sender=user, receiver=other_user, content="before", attachment="attachments/a.txt"
    )
    message.content = "after"
    table = Message._meta.db_table
    with CaptureQueriesContext(connection) as queries:
        message.save()
    reads = [q["sql"] for q in queries if q["sql"].startswith("SELECT") and table in q["sql"]]
    assert len(reads) == 1, reads
