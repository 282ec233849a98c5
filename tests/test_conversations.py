"""The conversations list: kept in step with the messages by every path that changes them."""

import importlib
import threading
from datetime import timedelta

import pytest
from django.core.cache import cache
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts import services as account_services
from devtools.factories import MessageFactory, UserFactory
from maintenance.utils import archive_old_records, restore_archived_records
from messaging import conversations, services
from messaging.models import Conversation, Message
from tests import effects
from tests.conftest import client_for

pytestmark = pytest.mark.django_db

CONVERSATIONS = "/api/v1/conversations/"
OLD = timezone.now() - timedelta(days=400)


def send(sender, receiver, content: str = "hello", parent=None) -> Message:
    return services.message_send(
        sender=sender, receiver=receiver, content=content, parent_message=parent
    )


def kept() -> dict[tuple[int, int], tuple[int, int]]:
    """(owner, other): (last message, unread) as the table holds them."""
    rows = Conversation.objects.values_list("owner_id", "other_id", "last_message_id", "unread")
    return {(owner, other): (last, unread) for owner, other, last, unread in rows}


def expected() -> dict[tuple[int, int], tuple[int, int]]:
    """The same, worked out from the messages."""
    found: dict[tuple[int, int], tuple[int, int]] = {}
    for m in Message.objects.order_by("timestamp", "id"):
        for owner, other in ((m.sender_id, m.receiver_id), (m.receiver_id, m.sender_id)):
            unread = found.get((owner, other), (None, 0))[1]
            found[(owner, other)] = (m.pk, unread + (owner == m.receiver_id and not m.read))
    return found


def test_a_message_starts_the_conversation_on_both_sides_and_moves_it(user, other_user):
    first = send(other_user, user)
    assert kept() == {
        (user.pk, other_user.pk): (first.pk, 1),
        (other_user.pk, user.pk): (first.pk, 0),
    }

    reply = send(user, other_user, "hi back", parent=first)

    assert kept() == {
        (user.pk, other_user.pk): (reply.pk, 1),
        (other_user.pk, user.pk): (reply.pk, 1),
    }


def test_reading_lowers_the_count_of_those_messages_senders_only(user, other_user):
    third = UserFactory()
    theirs = [send(other_user, user, f"a{i}") for i in range(3)]
    send(third, user, "b")

    services.messages_mark_read(user=user, ids=[theirs[0].pk, theirs[1].pk])
    assert kept()[(user.pk, other_user.pk)][1] == 1
    assert kept()[(user.pk, third.pk)][1] == 1
    services.messages_mark_read(user=user, ids=[theirs[0].pk])  # already read: no change
    assert kept() == expected()

    services.messages_mark_read(user=user)
    assert {unread for _, unread in kept().values()} == {0}
    assert kept() == expected()


def test_deleting_messages_moves_the_conversation_back_then_ends_it(user, other_user):
    older = send(other_user, user, "older")
    root = send(user, other_user, "root")
    send(other_user, user, "reply", parent=root)

    root.delete()  # and its reply, by cascade
    effects.deliver()
    assert (
        kept()
        == expected()
        == {
            (user.pk, other_user.pk): (older.pk, 1),
            (other_user.pk, user.pk): (older.pk, 0),
        }
    )

    Message.objects.filter(pk=older.pk).delete()
    effects.deliver()
    assert kept() == {}


def test_one_delete_of_many_pairs_refreshes_each_pair(user):
    people = UserFactory.create_batch(4)
    for person in people:
        send(person, user, "one")
        send(user, person, "two")
    Message.objects.filter(content="two").delete()
    assert effects.recorded("messaging.refresh_conversations")[0][1]["pairs"] == sorted(
        [sorted([user.pk, person.pk]) for person in people]
    )
    effects.deliver()
    assert kept() == expected()
    assert len(kept()) == 8


def test_archived_messages_leave_the_list_and_the_cached_list_says_so(
    user, other_user, django_capture_on_commit_callbacks
):
    third = UserFactory()
    with django_capture_on_commit_callbacks(execute=True):
        MessageFactory(sender=third, receiver=user, timestamp=OLD)
        MessageFactory(sender=other_user, receiver=user, timestamp=OLD)
        recent = send(other_user, user, "recent")
    api = client_for(user)
    listed = api.get(CONVERSATIONS).json()["results"]
    assert [(c["user"]["id"], c["unread_count"]) for c in listed] == [
        (other_user.pk, 2),
        (third.pk, 1),
    ]

    with django_capture_on_commit_callbacks(execute=True):
        archive_old_records(Message, "timestamp", 365)
    with django_capture_on_commit_callbacks(execute=True):
        effects.deliver()

    listed = api.get(CONVERSATIONS).json()["results"]
    assert [(c["user"]["id"], c["unread_count"], c["last_message"]["id"]) for c in listed] == [
        (other_user.pk, 1, recent.pk)
    ]
    assert kept() == expected()

    with django_capture_on_commit_callbacks(execute=True):
        restore_archived_records(model=Message)
    with django_capture_on_commit_callbacks(execute=True):
        effects.deliver()
    assert kept() == expected()
    assert len(api.get(CONVERSATIONS).json()["results"]) == 2


def test_a_purged_account_leaves_the_others_lists(user, other_user):
    third = UserFactory()
    send(other_user, user)
    send(user, other_user)
    send(third, user)
    account_services.account_purge(user_id=other_user.pk)
    assert kept() == expected()
    assert set(kept()) == {(user.pk, third.pk), (third.pk, user.pk)}


def test_refresh_repairs_any_pair(user, other_user):
    send(other_user, user)
    last = send(user, other_user)
    Conversation.objects.update(unread=7, last_at=OLD)
    conversations.refresh([(other_user.pk, user.pk)])
    assert kept() == expected()
    assert Conversation.objects.get(owner=user).last_at == last.timestamp


def test_the_migration_builds_the_list_from_existing_messages(user, other_user):
    third = UserFactory()
    root = send(other_user, user)
    send(user, other_user, parent=root)
    send(third, user)
    send(user, third)
    services.messages_mark_read(user=user, ids=[root.pk])
    want = kept()
    Conversation.objects.all().delete()
    backfill = importlib.import_module("messaging.migrations.0007_conversations").BACKFILL
    with connection.cursor() as cursor:
        cursor.execute(backfill)
    assert kept() == want == expected()


@pytest.mark.django_db(transaction=True)
def test_concurrent_sends_and_reads_keep_the_counts_exact():
    a, b = UserFactory(), UserFactory()
    errors = []

    def run(work):
        try:
            work()
        except Exception as error:  # reported below; a thread's exception is otherwise lost
            errors.append(error)
        finally:
            connection.close()

    def sends(sender, receiver):
        return lambda: [send(sender, receiver, f"m{i}") for i in range(15)]

    def reads():
        for _ in range(15):
            services.messages_mark_read(user=a)

    workers = [
        threading.Thread(target=run, args=(work,))
        for work in (sends(a, b), sends(b, a), sends(b, a), reads)
    ]
    for worker in workers:
        worker.start()
    for worker in workers:
        worker.join()

    assert errors == []
    assert Message.objects.count() == 45
    assert kept() == expected()


def test_the_api_lists_conversations_newest_activity_first(api, user, other_user):
    third = UserFactory()
    send(other_user, user, "one")
    send(other_user, user, "two")
    mine = send(user, third, "three")

    body = api.get(CONVERSATIONS).json()

    assert body["count"] == 2
    first, second = body["results"]
    assert first["user"] == {"id": third.pk, "username": third.username}
    assert first["last_message"] == api.get(f"/api/v1/messages/{mine.pk}/").json()
    assert (first["unread_count"], second["unread_count"]) == (0, 2)
    assert second["last_message"]["content"] == "two"
    # Each person sees their own side only.
    theirs = client_for(third).get(CONVERSATIONS).json()["results"]
    assert [(c["user"]["id"], c["unread_count"]) for c in theirs] == [(user.pk, 1)]


def queries_of(client, path: str) -> int:
    """The queries of one uncached GET of `path`."""
    cache.clear()
    with CaptureQueriesContext(connection) as captured:
        assert client.get(path).status_code == 200
    return len(captured)


def test_the_api_list_is_paginated_and_takes_the_same_queries_for_many_people(api, user):
    for person in UserFactory.create_batch(3):
        send(person, user)
    few = queries_of(api, CONVERSATIONS)
    for person in UserFactory.create_batch(60):
        send(person, user)
    assert queries_of(api, CONVERSATIONS) == few
    body = api.get(CONVERSATIONS).json()
    assert (body["count"], len(body["results"])) == (63, 20)
    assert body["next"]
    assert api.get(f"{CONVERSATIONS}?page=99").status_code == 404


def test_the_inbox_page_opens_on_conversations(client, user, other_user):
    third = UserFactory()
    send(other_user, user, "older words")
    send(other_user, user, "newer words")
    send(user, third, "mine")
    client.force_login(user)

    html = client.get("/").content.decode()

    assert html.index(third.username) < html.index(other_user.username)
    assert f'href="/people/{other_user.pk}/"' in html
    assert "2 new" in html
    assert '<span class="mine">You:</span> mine' in html
    assert "newer words" in html
    assert "older words" not in html
    received = client.get("/received/").content.decode()
    assert ("older words" in received, "newer words" in received) == (True, True)
    assert "mine" not in received


def test_the_inbox_page_takes_the_same_queries_for_many_people(client, user):
    client.force_login(user)
    for person in UserFactory.create_batch(2):
        send(person, user)
    few = queries_of(client, "/")
    for person in UserFactory.create_batch(30):
        send(user, person)
    assert queries_of(client, "/") == few


def test_a_conversation_shows_its_messages_in_order_and_reads_none(client, user, other_user):
    root = send(other_user, user, "root")
    reply = send(user, other_user, "reply", parent=root)
    newer = send(other_user, user, "another thread")
    send(UserFactory(), user, "not in this conversation")
    client.force_login(user)

    response = client.get(f"/people/{other_user.pk}/")

    html = response.content.decode()
    assert f"Conversation with {other_user.username}" in html
    assert html.index(f'id="m{root.pk}"') < html.index(f'id="m{reply.pk}"')
    assert html.index(f'id="m{reply.pk}"') < html.index(f'id="m{newer.pk}"')
    assert "not in this conversation" not in html
    # Shown is not read: the page marks what it has shown in a tab someone looks at.
    assert kept()[(user.pk, other_user.pk)][1] == 2


def test_a_conversation_with_nobody_is_a_404(client, user):
    client.force_login(user)
    assert client.get("/people/999999/").status_code == 404


def test_ids_name_nobody_the_search_hides_unless_there_is_a_conversation(client, user):
    # /people/<id>/ used to name every account by id, the superuser among them.
    admin = UserFactory(is_staff=True, is_superuser=True)
    gone = UserFactory(is_active=False)
    anyone, staff_friend = UserFactory(), UserFactory(is_staff=True)
    services.message_send(sender=staff_friend, receiver=user, content="hello from ops")
    client.force_login(user)
    api = client_for(user)
    for hidden in (admin, gone):
        assert client.get(f"/people/{hidden.pk}/").status_code == 404
        response = api.get(f"/api/v1/conversations/{hidden.pk}/")
        assert response.status_code == 404
        assert hidden.username not in response.content.decode()
    for shown in (anyone, staff_friend):
        assert client.get(f"/people/{shown.pk}/").status_code == 200
        assert api.get(f"/api/v1/conversations/{shown.pk}/").status_code == 200
    # The same answer for an id that exists and one that does not.
    assert (
        api.get(f"/api/v1/conversations/{admin.pk}/").json()
        == api.get("/api/v1/conversations/999999/").json()
    )
