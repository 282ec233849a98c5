"""Round trips of the hot paths, counted (devtools.round_trips): a send and a cached inbox
read must not grow (issue 32; bench/sends.py measures what each costs)."""

import pytest
from django.db import close_old_connections

from devtools import round_trips
from messaging.models import Conversation, Message

pytestmark = pytest.mark.django_db(transaction=True)


def served(request):
    """A request as a server runs it: Django's test client leaves out the start of request
    that makes the next query check its kept connection first (CONN_HEALTH_CHECKS)."""
    close_old_connections()
    return request()


def send(api, receiver, content="hello"):
    body = {"receiver": receiver.pk, "content": content}
    return served(lambda: api.post("/api/v1/messages/", body, format="json"))


def test_a_send_is_three_statements_and_one_redis_round_trip(api, other_user, settings):
    settings.MESSAGE_SEND_RATE = "60/min"  # the rate is checked, in the insert
    send(api, other_user, "warm")  # the connection opened, so its health check is due
    with round_trips.counted() as trips:
        response = send(api, other_user)
    assert response.status_code == 201
    # Django's health check, the token with its user, then one statement for the message,
    # the receiver's check, the send rate, both conversation rows and the outbox rows: no
    # transaction of its own.
    assert len(trips.sql) == 3, trips
    assert trips.sql[0].startswith("SELECT 1")
    assert "authtoken_token" in trips.sql[1]
    assert trips.sql[2].startswith("WITH receiver AS")
    # The inbox pages of both people invalidated; the rate lives in the messages.
    assert [r.split()[2] for r in trips.redis] == ["DEL"], trips
    assert Conversation.objects.filter(last_message_id=response.json()["id"]).count() == 2


def test_a_cached_inbox_read_is_one_redis_round_trip_and_only_authentication(api, user):
    assert api.get("/api/v1/messages/").status_code == 200
    with round_trips.counted() as trips:
        response = served(lambda: api.get("/api/v1/messages/"))
    assert response.status_code == 200
    assert len(trips.sql) == 2, trips
    assert "authtoken_token" in trips.sql[1]
    assert [r.split()[2] for r in trips.redis] == ["MGET"], trips


def test_a_refused_send_writes_nothing_in_its_one_statement(api, user, other_user, settings):
    settings.MESSAGE_SEND_RATE = "2/min"
    assert [send(api, other_user).status_code for _ in range(3)] == [201, 201, 429]
    other_user.is_active = False
    other_user.save()
    with round_trips.counted() as trips:
        refused = send(api, other_user)
    assert refused.status_code == 400
    assert refused.json()["receiver"] == [f"No active user has the id {other_user.pk}."]
    assert [q[:4] for q in trips.sql] == ["SELE", "SELE", "WITH"], trips
    assert not trips.redis  # nothing to invalidate
    assert Message.objects.count() == 2
