"""Live events: the log in Redis, the streams of a real ASGI server (uvicorn), and the
events a real Celery worker publishes after each change."""

import http.client
import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
import redis
from django.conf import settings
from django.contrib.sessions.models import Session
from django.test import Client
from django.utils import timezone
from rest_framework.authtoken.models import Token

from accounts import services as account_services
from core import events
from devtools.factories import PASSWORD, UserFactory
from devtools.sse import Stream
from messaging import services
from tests.servers import RedisServer, start_asgi_server, stop, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]

API = "/api/v1/events/"
MAX_STREAMS = 3


@pytest.fixture(scope="module")
def asgi_port(django_db_setup, django_db_blocker, tmp_path_factory):
    log = tmp_path_factory.mktemp("asgi") / "uvicorn.log"
    with django_db_blocker.unblock():
        process, base = start_asgi_server(log, EVENTS_MAX_STREAMS_PER_USER=str(MAX_STREAMS))
    yield int(base.rsplit(":", 1)[1])
    stop(process)
    print(log.read_text()[-3000:])


@pytest.fixture
def streams():
    """Open streams, closed at the end of the test."""
    opened = []

    def open_stream(port: int, user=None, path: str = API, **headers) -> Stream:
        if user is not None:
            key = Token.objects.get_or_create(user=user)[0].key
            headers["Authorization"] = f"Token {key}"
        stream = Stream(port, path, headers)
        opened.append(stream)
        return stream

    yield open_stream
    for stream in opened:
        stream.close()


def log_of(user) -> list:
    return redis.Redis.from_url(settings.EVENTS_REDIS_URL).xrange(events.log_key(user.pk))


# --- The log --------------------------------------------------------------------------------


def test_each_event_is_logged_with_the_id_of_its_users_previous_one():
    assert events.publish([(901, "a", {"n": 1}), (902, "b", {}), (901, "c", {"n": 3})]) == 3
    first, second = redis.Redis.from_url(settings.EVENTS_REDIS_URL).xrange(events.log_key(901))
    assert first[1][b"p"] == b"0-0"
    assert second[1][b"p"] == first[0]
    assert (second[1][b"e"], second[1][b"d"]) == (b"c", b'{"n":3}')


def test_the_log_is_bounded_by_length(settings):
    settings.EVENTS_LOG_MAX_LENGTH = 10
    for _ in range(10):
        events.publish([(903, "tick", {})] * 100)
    length = redis.Redis.from_url(settings.EVENTS_REDIS_URL).xlen(events.log_key(903))
    assert length == 10


def test_the_log_is_bounded_in_bytes_and_its_memory_shows_it(settings):
    # 131.6 MB in one user's log before (issue 27): big events, bounded by count only.
    settings.EVENTS_LOG_MAX_BYTES = 1_000_000
    client = redis.Redis.from_url(settings.EVENTS_REDIS_URL)
    big = {"content": "\U0001f600" * 10_000}  # 120 KB of JSON escapes
    for _ in range(50):
        events.publish([(904, "message.received", big)])
    entries = client.xrange(events.log_key(904))
    held = sum(len(fields[b"e"]) + len(fields[b"d"]) for _, fields in entries)
    assert held <= 1_000_000
    assert int(client.get(events.log_bytes_key(904))) == held
    assert client.memory_usage(events.log_key(904)) < 2_000_000  # was ~6 MB for these 50
    # The newest event is always kept, however big: a replay from before the log is a reset.
    assert len(entries) == 1_000_000 // 120_012
    events.publish([(904, "tick", {})])
    assert client.xlen(events.log_key(904)) == len(entries) + 1


def test_a_streams_queue_is_bounded_in_bytes(settings):
    settings.EVENTS_QUEUE_MAX_BYTES = 1000
    listener = events.Listener(905)
    for n in range(5):
        listener.deliver(events.Event(f"{n}-0", "0-0", "tick", "x" * 300))
    # Three fit; then the stream is told to replay from the log instead of holding more.
    assert (listener.queue.qsize(), listener.queued_bytes, listener.overflowed) == (3, 900, True)


def test_a_dead_redis_loses_the_event_not_the_task(settings, tmp_path):
    server = RedisServer(tmp_path)  # never started: nothing answers on its port
    settings.EVENTS_REDIS_URL = server.url()
    assert events.publish([(904, "lost", {})]) == 0


# --- Opening a stream -----------------------------------------------------------------------


def test_anonymous_and_bad_tokens_get_401_before_any_stream_opens(asgi_port, streams, user):
    anonymous = streams(asgi_port)
    assert anonymous.status == 401
    assert anonymous.headers["WWW-Authenticate"] == "Token"
    assert anonymous.headers["Content-Type"] == "application/json"
    assert b"credentials were not provided" in anonymous.body

    wrong = streams(asgi_port, Authorization="Token not-a-key")
    assert (wrong.status, wrong.body) == (401, b'{"detail": "Invalid token."}')

    token = Token.objects.create(user=user)
    Token.objects.filter(pk=token.pk).update(created="2000-01-01T00:00:00Z")
    expired = streams(asgi_port, Authorization=f"Token {token.key}")
    assert expired.status == 401
    assert b"Token expired" in expired.body


def test_a_token_in_the_query_string_is_refused(asgi_port, streams, user):
    key = Token.objects.create(user=user).key
    refused = streams(asgi_port, path=f"{API}?token={key}")
    assert refused.status == 400
    assert b"Authorization: Token" in refused.body


def test_bad_requests_get_a_clear_4xx(asgi_port, streams, user):
    assert b"Last-Event-ID" in streams(asgi_port, user, **{"Last-Event-ID": "yesterday"}).body
    assert streams(asgi_port, user, path=f"{API}?since=soon").status == 400
    # Digits of other scripts pass str.isdigit() and \d, but neither int() nor Redis: 400s,
    # not a 500 or a stream that closes at once (and a browser reconnecting forever).
    for since in ("%C2%B2", "%E2%91%A0", "%D9%A3"):  # ², ①, Arabic-Indic 3
        refused = streams(asgi_port, user, path=f"{API}?since={since}")
        assert (refused.status, b"since must be" in refused.body) == (400, True)
    refused = streams(asgi_port, user, path=f"{API}?last_event_id=%D9%A3-0")
    assert (refused.status, b"Last-Event-ID" in refused.body) == (400, True)
    connection = http.client.HTTPConnection("127.0.0.1", asgi_port, timeout=5)
    connection.request("POST", API)
    response = connection.getresponse()
    assert (response.status, response.headers["Allow"]) == (405, "GET")


def test_pages_open_their_stream_with_the_session_cookie(asgi_port, streams, user):
    client = Client()
    client.force_login(user)
    cookie = f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"
    stream = streams(asgi_port, path="/events/", Cookie=cookie)
    assert stream.status == 200
    assert stream.headers["Content-Type"] == "text/event-stream; charset=utf-8"
    assert stream.headers["Cache-Control"] == "no-store"
    assert stream.headers["X-Accel-Buffering"] == "no"
    wait_for(lambda: stream.retry == settings.EVENTS_RETRY_MS)

    assert streams(asgi_port, path="/events/", Cookie="sessionid=forged").status == 401


def test_a_user_may_open_only_so_many_streams(asgi_port, streams, user):
    opened = [streams(asgi_port, user) for _ in range(MAX_STREAMS)]
    assert [s.status for s in opened] == [200] * MAX_STREAMS
    refused = streams(asgi_port, user)
    assert refused.status == 429
    assert int(refused.headers["Retry-After"]) > 0
    assert f"You have {MAX_STREAMS} event streams open".encode() in refused.body
    # Another user is not affected.
    assert streams(asgi_port, UserFactory()).status == 200

    opened[0].close()  # its lease is released when the server sees it go

    def one_more_opens():
        stream = streams(asgi_port, user)
        return stream.status == 200

    wait_for(one_more_opens, timeout=10, interval=0.1)


# --- Events from the worker -----------------------------------------------------------------


def names(stream: Stream, count: int) -> list[str]:
    return [event.name for event in stream.take(count)]


def test_every_kind_of_event_reaches_its_users_and_nobody_else(celery_worker, asgi_port, streams):
    alice, bob, carol = UserFactory(), UserFactory(), UserFactory()
    to_alice, to_bob, to_carol = (
        streams(asgi_port, alice),
        streams(asgi_port, bob),
        streams(asgi_port, carol),
    )

    message = services.message_send(sender=alice, receiver=bob, content="Lunch?")
    received, notified = to_bob.take(2)
    assert received.name == "message.received"
    data = received.json()
    assert data["message"]["id"] == message.pk
    assert data["message"]["content"] == "Lunch?"
    assert data["message"]["sender_username"] == alice.username
    # Published at the commit, before the worker has made the notification.
    assert data["unread"] == {"messages": 1, "notifications": 0}
    assert notified.name == "notification.created"
    assert notified.json()["notification"]["message"] == message.pk
    assert notified.json()["unread"] == {"messages": 1, "notifications": 1}
    sent = to_alice.next()
    assert (sent.name, sent.json()["message"]["id"]) == ("message.sent", message.pk)

    services.message_edit(message=message, editor=alice, content="Lunch at one?")
    for stream in (to_alice, to_bob):
        edited = stream.next()
        assert edited.name == "message.edited"
        assert edited.json()["message"]["content"] == "Lunch at one?"
        assert edited.json()["message"]["edited"] is True

    services.messages_mark_read(user=bob)
    changed = to_bob.next()
    assert (changed.name, changed.json()) == (
        "unread.changed",
        {"unread": {"messages": 0, "notifications": 0}},
    )

    reply = services.message_send(sender=alice, receiver=bob, content="Still there?")
    assert names(to_bob, 2) == ["message.received", "notification.created"]
    assert names(to_alice, 1) == ["message.sent"]
    account_services.account_delete(user=alice, password=PASSWORD)
    deleted = to_bob.next(timeout=20)
    assert deleted.name == "messages.deleted"
    assert sorted(deleted.json()["ids"]) == sorted([message.pk, reply.pk])
    assert deleted.json()["unread"] == {"messages": 0, "notifications": 0}

    # Carol saw none of it: the first event of her stream is the first that is hers.
    services.message_send(sender=bob, receiver=carol, content="Hi Carol")
    first = to_carol.next()
    assert (first.name, first.json()["message"]["content"]) == ("message.received", "Hi Carol")
    # Nor did Bob see Alice's own events, nor Alice Bob's: each stream held only the above.
    assert names(to_bob, 1) == ["message.sent"]


def test_a_client_that_comes_back_gets_what_it_missed_then_live_events(
    celery_worker, asgi_port, streams
):
    alice, bob = UserFactory(), UserFactory()
    first_stream = streams(asgi_port, bob)
    services.message_send(sender=alice, receiver=bob, content="one")
    last_seen = first_stream.take(2)[-1].id
    first_stream.close()

    services.message_send(sender=alice, receiver=bob, content="two")
    services.message_send(sender=alice, receiver=bob, content="three")
    wait_for(lambda: len(log_of(bob)) == 6)

    back = streams(asgi_port, bob, **{"Last-Event-ID": last_seen})
    missed = back.take(4)
    # The relay publishes a batch's messages, then the worker their notifications.
    assert sorted(e.name for e in missed) == ["message.received"] * 2 + ["notification.created"] * 2
    received = [e for e in missed if e.name == "message.received"]
    assert [e.json()["message"]["content"] for e in received] == ["two", "three"]
    services.message_send(sender=alice, receiver=bob, content="four")
    assert back.next().json()["message"]["content"] == "four"
    ids = [e.id for e in missed]
    assert ids == sorted(ids, key=events.position)
    assert last_seen not in ids


def test_an_id_the_log_no_longer_holds_gets_a_reset(celery_worker, asgi_port, streams):
    alice, bob = UserFactory(), UserFactory()
    stream = streams(asgi_port, bob)
    services.message_send(sender=alice, receiver=bob, content="one")
    last_seen = stream.take(2)[-1].id
    stream.close()
    redis.Redis.from_url(settings.EVENTS_REDIS_URL).delete(events.log_key(bob.pk))  # lost
    services.message_send(sender=alice, receiver=bob, content="two")
    wait_for(lambda: len(log_of(bob)) == 2)

    back = streams(asgi_port, bob, **{"Last-Event-ID": last_seen})
    reset = back.next()
    assert reset.name == "stream.reset"
    assert reset.id == log_of(bob)[-1][0].decode()  # the client's next id is past the gap
    services.message_send(sender=alice, receiver=bob, content="three")
    assert back.next().json()["message"]["content"] == "three"


def test_one_subscription_serves_every_stream_of_the_process(asgi_port, streams):
    for _ in range(5):
        assert streams(asgi_port, UserFactory()).status == 200
    channel = events.channel(settings.EVENTS_REDIS_URL)
    client = redis.Redis.from_url(settings.EVENTS_REDIS_URL)
    assert client.pubsub_numsub(channel) == [(channel.encode(), 1)]


def test_a_redis_outage_ends_the_streams_and_they_come_back_after_it(tmp_path, streams, settings):
    server = RedisServer(tmp_path)
    server.start()
    process, base = start_asgi_server(tmp_path / "uvicorn.log", EVENTS_REDIS_URL=server.url())
    try:
        port = int(base.rsplit(":", 1)[1])
        user = UserFactory()
        stream = streams(port, user)
        assert stream.status == 200
        server.stop()
        wait_for(stream.ended.is_set, timeout=20)
        refused = streams(port, user)
        assert (refused.status, refused.headers["Retry-After"]) == (503, "5")
        assert b"unavailable" in refused.body

        server.start()
        wait_for(lambda: streams(port, user).status == 200, timeout=20, interval=0.2)
        back = streams(port, user)
        publisher = redis.Redis.from_url(server.url())
        wait_for(lambda: publisher.pubsub_numsub(events.channel(server.url()))[0][1] == 1)
        settings.EVENTS_REDIS_URL = server.url()
        events.publish([(user.pk, "ping", {"after": "outage"})])
        assert back.next().json() == {"after": "outage"}
    finally:
        stop(process)
        server.stop()


def test_a_stopping_server_ends_its_streams_at_once(tmp_path, streams, user):
    log = tmp_path / "uvicorn.log"
    process, base = start_asgi_server(log)
    stream = streams(int(base.rsplit(":", 1)[1]), user)
    assert stream.status == 200
    process.terminate()  # SIGTERM, as a deploy or a supervisor sends it
    process.wait(timeout=20)
    wait_for(stream.ended.is_set)
    # Ended by the platform, its clients told when to come back, not cancelled by the
    # server at the end of its graceful timeout.
    assert stream.retry == settings.EVENTS_RETRY_MS
    assert "graceful shutdown exceeded" not in log.read_text()
    assert "Exception in ASGI application" not in log.read_text()


# --- Streams end with their credentials (issue 27) -------------------------------------------


def session_cookie(client: Client) -> str:
    return f"{settings.SESSION_COOKIE_NAME}={client.cookies[settings.SESSION_COOKIE_NAME].value}"


def ends_within(stream: Stream, seconds: float, started: float | None = None) -> float:
    """How long the stream took to end (since `started`, a monotonic time); fails if it is
    still open after `seconds`."""
    started = started or time.monotonic()
    assert stream.ended.wait(seconds), f"the stream was still open after {seconds} s"
    return time.monotonic() - started


def test_a_logout_ends_that_sessions_streams_and_no_other(asgi_port, streams, user, capsys):
    leaving, staying = Client(), Client()
    for client in (leaving, staying):
        client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    gone = streams(asgi_port, path="/events/", Cookie=session_cookie(leaving))
    kept = streams(asgi_port, path="/events/", Cookie=session_cookie(staying))
    assert (gone.status, kept.status) == (200, 200)
    cookie = session_cookie(leaving)
    started = time.monotonic()
    leaving.post("/accounts/logout/")
    seconds = ends_within(gone, 5, started)
    assert streams(asgi_port, path="/events/", Cookie=cookie).status == 401
    assert not kept.ended.wait(1)
    with capsys.disabled():
        print(f"\n  [revoked stream] logout -> stream ended in {seconds * 1000:.0f} ms")


def test_a_password_change_ends_the_other_sessions_streams(asgi_port, streams, user):
    other, changing = Client(), Client()
    for client in (other, changing):
        client.post("/accounts/login/", {"username": user.username, "password": PASSWORD})
    stream = streams(asgi_port, path="/events/", Cookie=session_cookie(other))
    assert stream.status == 200
    new = "a brand new passphrase 42"
    changed = changing.post(
        "/accounts/password_change/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert changed.status_code == 302
    ends_within(stream, 5)


@pytest.mark.parametrize("how", ["deleted", "replaced", "deactivated", "account deleted"])
def test_a_token_stream_ends_with_its_token_or_account(asgi_port, streams, user, how):
    stream = streams(asgi_port, user)
    assert stream.status == 200
    if how in ("deleted", "replaced"):
        Token.objects.filter(user=user).delete()
        if how == "replaced":
            Token.objects.create(user=user)
    elif how == "deactivated":
        user.is_active = False
        user.save()
    else:
        account_services.account_delete(user=user, password=PASSWORD)
    ends_within(stream, 5)


def test_a_stream_ends_when_its_token_expires(asgi_port, streams, user):
    token = Token.objects.create(user=user)
    age = timedelta(days=settings.API_TOKEN_MAX_AGE_DAYS) - timedelta(seconds=2)
    Token.objects.filter(pk=token.pk).update(created=timezone.now() - age)
    stream = streams(asgi_port, Authorization=f"Token {token.key}")
    assert stream.status == 200
    ends_within(stream, 6)


def test_without_any_announcement_the_heartbeat_recheck_ends_the_stream(tmp_path, user):
    # The backstop: the session row goes behind the platform's back (no signal, no event).
    process, base = start_asgi_server(tmp_path / "asgi.log", EVENTS_HEARTBEAT_SECONDS="1")
    try:
        client = Client()
        client.force_login(user)
        stream = Stream(int(base.rsplit(":", 1)[1]), "/events/", {"Cookie": session_cookie(client)})
        assert stream.status == 200
        Session.objects.all().delete()
        ends_within(stream, 5)
        stream.close()
    finally:
        stop(process)


# A client's network vanishes: its own test host, a network namespace (iproute2) joined to
# this one by a veth pair on link-local addresses (a subnet of each run's own), whose link
# the test takes down.
SUBNET = f"169.254.{os.getpid() % 250 + 1}"
CLIENT_ADDRESS, SERVER_ADDRESS = f"{SUBNET}.2", f"{SUBNET}.1"

OPEN_STREAMS = """
import http.client, sys, threading
port, token, count = int(sys.argv[1]), sys.argv[2], int(sys.argv[3])
held = []
for _ in range(count):
    connection = http.client.HTTPConnection("%s", port, timeout=10)
    connection.request("GET", "/api/v1/events/", headers={"Authorization": "Token " + token})
    assert connection.getresponse().status == 200
    held.append(connection)
print("open", flush=True)
threading.Event().wait()  # hold them until killed
"""


@pytest.fixture
def client_host():
    """The name of a network namespace reaching this one at SERVER_ADDRESS."""
    name = f"tqm{os.getpid() % 100000}"
    host_side, client_side = f"{name}h", f"{name}c"

    def run(*command):
        subprocess.run(command, check=True, capture_output=True)

    run("ip", "netns", "add", name)
    try:
        run("ip", "link", "add", host_side, "type", "veth", "peer", "name", client_side)
        run("ip", "link", "set", client_side, "netns", name)
        run("ip", "addr", "add", f"{SERVER_ADDRESS}/30", "dev", host_side)
        run("ip", "link", "set", host_side, "up")
        inside = ["ip", "netns", "exec", name]
        run(*inside, "ip", "addr", "add", f"{CLIENT_ADDRESS}/30", "dev", client_side)
        run(*inside, "ip", "link", "set", client_side, "up")
        yield name, client_side
    finally:
        # The pair first: a namespace's devices may outlive its deletion for a while.
        subprocess.run(["ip", "link", "del", host_side], capture_output=True)
        subprocess.run(["ip", "netns", "del", name], capture_output=True)


def test_a_client_whose_network_vanishes_frees_its_streams_slots(
    tmp_path, user, client_host, capsys
):
    # Issue 27: its 10 slots stayed taken until TCP gave up: 429s for 945 s.
    namespace, client_side = client_host
    key = Token.objects.create(user=user).key
    server, base = start_asgi_server(
        tmp_path / "asgi.log",
        host="0.0.0.0",
        EVENTS_MAX_STREAMS_PER_USER="3",
        EVENTS_HEARTBEAT_SECONDS="1",
    )
    port = int(base.rsplit(":", 1)[1])
    client = subprocess.Popen(
        ["ip", "netns", "exec", namespace, sys.executable, "-c",
         OPEN_STREAMS % SERVER_ADDRESS, str(port), key, "3"],
        stdout=subprocess.PIPE,
        text=True,
    )  # fmt: skip
    try:
        assert client.stdout.readline().strip() == "open"
        full = Stream(port, API, {"Authorization": f"Token {key}"})
        assert full.status == 429
        subprocess.run(
            ["ip", "netns", "exec", namespace, "ip", "link", "set", client_side, "down"],
            check=True,
        )
        vanished = time.monotonic()

        def a_slot_is_free():
            stream = Stream(port, API, {"Authorization": f"Token {key}"})
            stream.close()
            return stream.status == 200

        wait_for(a_slot_is_free, timeout=20, interval=0.2)
        seconds = time.monotonic() - vanished
    finally:
        client.kill()
        client.wait()
        stop(server)
    with capsys.disabled():
        print(f"\n  [vanished client] its slots free {seconds:.1f} s after its network went")
