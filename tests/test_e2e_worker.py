"""Signals reach a real Celery worker through the real broker, and nothing is lost."""

import time

import pytest
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import connection
from rest_framework.authtoken.models import Token

from accounts.models import AccountDeletion
from devtools.factories import PASSWORD, MessageFactory, UserFactory
from messaging import services
from messaging.models import Message, MessageHistory, Notification
from tests.conftest import client_for
from tests.servers import free_port, http, start_server, stop, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


def test_new_message_gets_its_notification_from_the_worker(celery_worker, user, other_user):
    message = services.message_send(sender=user, receiver=other_user, content="hello")
    wait_for(lambda: Notification.objects.filter(message=message, user=other_user).exists())
    assert Notification.objects.count() == 1


def _sessions_opened() -> int:
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute("SELECT sessions FROM pg_stat_database WHERE datname = current_database()")
        return cursor.fetchone()[0]


def test_the_worker_reuses_its_database_connection_across_tasks(celery_worker, user, other_user):
    # Celery's default opens a connection per task (core/worker_db.py): 20 tasks, 20+.
    before = _sessions_opened()
    for n in range(20):
        services.message_send(sender=user, receiver=other_user, content=f"hello {n}")
    wait_for(lambda: Notification.objects.count() == 20)
    assert _sessions_opened() - before <= 2  # at most one per worker process


def test_two_quick_edits_leave_two_history_rows_in_order(celery_worker, user, other_user):
    message = services.message_send(sender=user, receiver=other_user, content="first")
    services.message_edit(message=message, editor=user, content="second")
    services.message_edit(message=message, editor=user, content="third")
    wait_for(lambda: MessageHistory.objects.filter(message=message).count() == 2)
    history = MessageHistory.objects.filter(message=message).order_by("edited_at")
    assert [h.old_content for h in history] == ["first", "second"]
    assert {h.edited_by_id for h in history} == {user.pk}
    assert Message.objects.get(pk=message.pk).content == "third"


def test_account_deletion_purges_everything_through_the_worker(celery_worker, user, other_user):
    third = UserFactory()
    sent = services.message_send(
        sender=user,
        receiver=other_user,
        content="with a file",
        attachment=ContentFile(b"secret", name="note.txt"),
    )
    MessageFactory.create_batch(3, sender=other_user, receiver=user)
    kept = services.message_send(sender=other_user, receiver=third, content="not theirs")
    wait_for(lambda: Notification.objects.count() == 5)
    path = sent.attachment.name
    assert default_storage.exists(path)

    other_client = client_for(other_user)
    client = client_for(user)
    response = client.delete("/api/v1/me/", {"password": PASSWORD}, format="json")

    assert response.status_code == 202
    assert client.get("/api/v1/me/").status_code == 401
    wait_for(lambda: not type(user).objects.filter(pk=user.pk).exists())
    wait_for(lambda: not default_storage.exists(path))
    assert list(Message.objects.values_list("pk", flat=True)) == [kept.pk]
    assert list(Notification.objects.values_list("message_id", flat=True)) == [kept.pk]
    assert not AccountDeletion.objects.exists()
    assert other_client.get("/api/v1/me/").status_code == 200


def test_a_web_process_that_cannot_reach_the_broker_still_sends_and_edits(
    celery_worker, tmp_path, user, other_user, capsys
):
    # The web process never publishes: its writes commit their effects to the outbox, and
    # the relay (the worker fixture's, on a broker that answers) publishes them.
    dead_broker = f"redis://127.0.0.1:{free_port()}/0"
    server, base = start_server(tmp_path / "server.log", REDIS_URL=dead_broker)
    token = Token.objects.create(user=user).key
    try:
        started = time.monotonic()
        status, body = http(
            "POST", f"{base}/api/v1/messages/", token, {"receiver": other_user.pk, "content": "hi"}
        )
        send_seconds = time.monotonic() - started
        edit_status, _ = http(
            "PATCH", f"{base}/api/v1/messages/{body['id']}/", token, {"content": "hi!"}
        )
    finally:
        stop(server)
    with capsys.disabled():
        print(f"\n  send with the broker down answered {status} in {send_seconds * 1000:.0f} ms")

    assert status == 201
    assert edit_status == 200
    message = Message.objects.get(pk=body["id"])
    assert message.content == "hi!"
    wait_for(lambda: Notification.objects.filter(message=message, user=other_user).exists())
    wait_for(lambda: message.history.exists())
    assert list(message.history.values_list("old_content", flat=True)) == ["hi"]
    assert "could not publish" not in (tmp_path / "server.log").read_text()
