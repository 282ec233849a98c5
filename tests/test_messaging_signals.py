"""Receivers hand ids to tasks after commit, and only then."""

from functools import partial

import pytest
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts import services as account_services
from accounts.models import AccountDeletion
from devtools.factories import MessageFactory
from messaging import services
from messaging.models import Message

pytestmark = pytest.mark.django_db


def publications(callbacks) -> list[tuple[str, tuple, dict]]:
    """The task publications among captured on_commit callbacks: (task name, args, kwargs)."""
    return [
        (c.func.__self__.name, *c.args)
        for c in callbacks
        if isinstance(c, partial) and getattr(c.func, "__name__", "") == "publish_or_fallback"
    ]


def test_new_message_hands_its_id_to_the_notification_task(
    user, other_user, django_capture_on_commit_callbacks
):
    with django_capture_on_commit_callbacks() as callbacks:
        message = services.message_send(sender=user, receiver=other_user, content="hi")
    assert publications(callbacks) == [("messaging.create_notification", (message.pk,), {})]


def test_edit_hands_the_old_content_to_the_history_task(
    user, other_user, django_capture_on_commit_callbacks
):
    message = MessageFactory(sender=user, receiver=other_user, content="before")
    with django_capture_on_commit_callbacks() as callbacks:
        edited = services.message_edit(message=message, editor=user, content="after")
    [(name, args, kwargs)] = publications(callbacks)
    assert (name, args) == ("messaging.record_edit", (message.pk,))
    assert kwargs == {
        "old_content": "before",
        "edited_at": edited.edited_at.isoformat(),
        "editor_id": user.pk,
    }
    assert edited.edited


def test_saving_unchanged_content_is_not_an_edit(user, django_capture_on_commit_callbacks):
    message = MessageFactory(sender=user)
    with django_capture_on_commit_callbacks() as callbacks:
        message.read = True
        message.save()
    assert publications(callbacks) == []
    assert not Message.objects.get(pk=message.pk).edited


def test_rolled_back_message_publishes_nothing(
    user, other_user, django_capture_on_commit_callbacks
):
    def send_then_fail():
        with transaction.atomic():
            Message.objects.create(sender=user, receiver=other_user, content="hi")
            raise RuntimeError("rollback")

    with django_capture_on_commit_callbacks() as callbacks, pytest.raises(RuntimeError):
        send_then_fail()
    assert callbacks == []
    assert not Message.objects.exists()


def test_admin_style_user_deletion_hands_the_user_to_the_purge(
    user, django_capture_on_commit_callbacks
):
    user_id = user.pk
    with django_capture_on_commit_callbacks() as callbacks:
        user.delete()
    assert ("accounts.purge_account", (user_id,), {}) in publications(callbacks)


def test_account_deletion_hands_the_user_to_the_purge(user, django_capture_on_commit_callbacks):
    user.set_password("pw")
    user.save()
    with django_capture_on_commit_callbacks() as callbacks:
        account_services.account_delete(user=user, password="pw")
    assert publications(callbacks) == [("accounts.purge_account", (user.pk,), {})]


def test_a_purge_deleting_its_user_queues_no_second_purge(
    user, other_user, django_capture_on_commit_callbacks
):
    MessageFactory.create_batch(3, sender=user, receiver=other_user)
    AccountDeletion.objects.create(user=user)
    with django_capture_on_commit_callbacks() as callbacks:
        account_services.account_purge(user_id=user.pk)
    assert not type(user).objects.filter(pk=user.pk).exists()
    assert [p for p in publications(callbacks) if p[0].endswith("purge_account")] == []


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
