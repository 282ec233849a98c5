"""The inbox cache on the real Redis: per user, never stale, and harmless when Redis is down."""

import json
import urllib.request

import pytest
from rest_framework.authtoken.models import Token

from devtools.factories import MessageFactory, UserFactory
from messaging import inbox_cache, services
from tests.conftest import client_for
from tests.servers import free_port, start_server, stop

pytestmark = pytest.mark.django_db

INBOX = "/api/v1/messages/"


def ids(response) -> list[int]:
    return [m["id"] for m in response.json()["results"]]


def test_a_repeated_inbox_request_is_served_from_the_cache(api, user, django_assert_num_queries):
    MessageFactory.create_batch(3, receiver=user)
    first = api.get(INBOX)
    with django_assert_num_queries(1):  # the token lookup; no message query
        second = api.get(INBOX)
    assert ids(second) == ids(first)
    assert "private" in second["Cache-Control"]


def test_two_users_never_see_each_others_cached_inbox(user, other_user):
    mine = MessageFactory.create_batch(2, receiver=user)
    theirs = MessageFactory.create_batch(3, receiver=other_user)
    clients = {user.pk: client_for(user), other_user.pk: client_for(other_user)}
    expected = {
        user.pk: sorted((m.pk for m in mine), reverse=True),
        other_user.pk: sorted((m.pk for m in theirs), reverse=True),
    }
    for _ in range(10):
        for owner, client in clients.items():
            assert ids(client.get(INBOX, HTTP_ACCEPT="application/json")) == expected[owner]


def test_receiving_a_message_invalidates_the_receivers_inbox(
    api, user, other_user, django_capture_on_commit_callbacks
):
    assert ids(api.get(INBOX)) == []
    with django_capture_on_commit_callbacks(execute=True):
        message = services.message_send(sender=other_user, receiver=user, content="new")
    assert ids(api.get(INBOX)) == [message.pk]


def test_sending_invalidates_the_senders_sent_box(
    api, user, other_user, django_capture_on_commit_callbacks
):
    assert ids(api.get(f"{INBOX}?box=sent")) == []
    with django_capture_on_commit_callbacks(execute=True):
        response = api.post(INBOX, {"receiver": other_user.pk, "content": "hi"}, format="json")
    assert ids(api.get(f"{INBOX}?box=sent")) == [response.json()["id"]]


def test_an_edit_invalidates_both_inboxes(user, other_user, django_capture_on_commit_callbacks):
    message = MessageFactory(sender=user, receiver=other_user, content="before")
    receiver = client_for(other_user)
    assert receiver.get(INBOX).json()["results"][0]["content"] == "before"
    with django_capture_on_commit_callbacks(execute=True):
        services.message_edit(message=message, editor=user, content="after")
    assert receiver.get(INBOX).json()["results"][0]["content"] == "after"


def test_reading_invalidates_the_inbox(api, user, other_user, django_capture_on_commit_callbacks):
    MessageFactory(sender=other_user, receiver=user)
    assert api.get(INBOX).json()["results"][0]["read"] is False
    with django_capture_on_commit_callbacks(execute=True):
        api.post(f"{INBOX}mark-read/", {}, format="json")
    assert api.get(INBOX).json()["results"][0]["read"] is True


@pytest.mark.e2e
@pytest.mark.django_db(transaction=True)
def test_redis_cache_down_serves_uncached_responses(tmp_path, user, other_user):
    MessageFactory.create_batch(2, sender=other_user, receiver=user)
    token = Token.objects.create(user=user).key
    dead = f"redis://127.0.0.1:{free_port()}/0"
    server, base = start_server(tmp_path / "server.log", REDIS_CACHE_URL=dead)
    try:
        request = urllib.request.Request(
            f"{base}{INBOX}", headers={"Authorization": f"Token {token}"}
        )
        statuses = []
        for _ in range(3):
            with urllib.request.urlopen(request, timeout=10) as response:
                statuses.append(response.status)
                body = json.loads(response.read())
    finally:
        stop(server)
    assert statuses == [200, 200, 200]
    assert len(body["results"]) == 2
    assert "platform.cache" in (tmp_path / "server.log").read_text()


def test_only_the_two_people_are_invalidated(user, other_user, django_capture_on_commit_callbacks):
    bystander = UserFactory()
    before = {u.pk: inbox_cache.version_of(u.pk) for u in (user, other_user, bystander)}
    with django_capture_on_commit_callbacks(execute=True):
        services.message_send(sender=user, receiver=other_user, content="elsewhere")
    after = {u.pk: inbox_cache.version_of(u.pk) for u in (user, other_user, bystander)}
    assert after[bystander.pk] == before[bystander.pk]
    assert after[user.pk] != before[user.pk]
    assert after[other_user.pk] != before[other_user.pk]
