"""The outbox relay as it runs in production (manage.py relay_outbox, its own process), on
a Redis of each test's own: killed mid-batch, two at once, Redis away while people write."""

import base64
import json
import time
from collections import Counter

import psycopg
import pytest
import redis
from django.db import connection, transaction

from core import events as live
from core.models import OutboxRow
from devtools.factories import UserFactory
from messaging import effects, services
from messaging.models import Message, Notification
from tests import servers
from tests.servers import Relay, Worker, relays_paused, report, wait_for

pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.e2e]


def messages_written(count: int, receivers: list, sender) -> list[int]:
    """`count` messages with their outbox rows, written as a send writes them but in
    transactions of 100 (fast), round-robin over `receivers`."""
    ids = []
    for start in range(0, count, 100):
        batch = [
            Message(sender=sender, receiver=receivers[n % len(receivers)], content=f"m{n}")
            for n in range(start, min(count, start + 100))
        ]
        with transaction.atomic():
            Message.objects.bulk_create(batch)
            for message in batch:
                effects.message_sent(message.pk)
        ids += [message.pk for message in batch]
    return ids


def queued_notification_ids(client: redis.Redis) -> Counter:
    """The message ids in the notification tasks waiting in the broker's queue."""
    seen = Counter()
    for raw in client.lrange("default", 0, -1):
        envelope = json.loads(raw)
        if envelope["headers"]["task"] != "messaging.create_notifications":
            continue
        args, _kwargs, _ = json.loads(base64.b64decode(envelope["body"]))
        seen.update(args[0])
    return seen


def received_ids(client: redis.Redis, users) -> Counter:
    """The message ids of the "message.received" events in these users' logs."""
    seen = Counter()
    for user in users:
        for _, fields in client.xrange(live.log_key(user.pk)):
            if fields[b"e"] == b"message.received":
                seen[json.loads(fields[b"d"])["message"]["id"]] += 1
    return seen


def announced(client: redis.Redis, user) -> list[int]:
    """The message ids of the "notification.created" events in the user's log."""
    return [
        json.loads(fields[b"d"])["notification"]["message"]
        for _, fields in client.xrange(live.log_key(user.pk))
        if fields[b"e"] == b"notification.created"
    ]


def relay_waits_on_its_delete() -> bool:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_stat_activity WHERE wait_event_type = 'Lock'"
            " AND datname = current_database() AND query LIKE 'DELETE FROM %%core_outbox%%'"
        )
        return cursor.fetchone()[0] == 1


def test_a_relay_killed_mid_batch_loses_nothing_and_doubles_nothing(
    private_redis, tmp_path, capsys
):
    sender, receivers = UserFactory(), UserFactory.create_batch(5)
    client = redis.Redis.from_url(private_redis.url(0))
    relay = Relay(tmp_path / "relay.log", REDIS_URL=private_redis.url(0))
    with relays_paused():  # the rows wait for this test's relay
        ids = messages_written(3000, receivers, sender)
        with psycopg.connect(servers.test_database_url()) as holder:
            # SHARE lets the relay take its rows (FOR UPDATE) and publish them, and holds
            # its DELETE: the relay is then exactly between its publish and its commit.
            holder.execute(f"LOCK TABLE {OutboxRow._meta.db_table} IN SHARE MODE")
            relay.start()
            wait_for(relay_waits_on_its_delete, timeout=60)
            waiting_at_kill = OutboxRow.objects.count()
            published_at_kill = len(received_ids(client, receivers))
            relay.kill()
        relay.start()
        wait_for(lambda: not OutboxRow.objects.exists(), timeout=60)
        relay.stop()
    report(
        capsys,
        "relay killed mid-batch",
        rows=waiting_at_kill,
        events_published_before_the_kill=published_at_kill,
    )
    assert waiting_at_kill == 2 * len(ids)  # the batch was taken, not committed
    assert published_at_kill > 0
    assert received_ids(client, receivers) == Counter(ids)  # each event once
    queued = queued_notification_ids(client)
    assert set(queued) == set(ids)  # no notification lost (a task may come twice: idempotent)


def test_two_relays_publish_each_row_once(private_redis, tmp_path):
    sender, receivers = UserFactory(), UserFactory.create_batch(5)
    client = redis.Redis.from_url(private_redis.url(0))
    env = {"REDIS_URL": private_redis.url(0), "OUTBOX_TASK_LINGER_SECONDS": "0"}
    first = Relay(tmp_path / "first.log", **env).start()
    second = Relay(tmp_path / "second.log", **env)
    # Both at once (start() would stop the first: spawn the second beside it).
    second._spawn()
    try:
        ids = messages_written(2000, receivers, sender)
        wait_for(lambda: not OutboxRow.objects.exists(), timeout=60)
    finally:
        second._terminate()
        first.stop()
    for log in ("first.log", "second.log"):
        assert b"outbox relay started" in (tmp_path / log).read_bytes()
    assert queued_notification_ids(client) == Counter(ids)
    assert received_ids(client, receivers) == Counter(ids)


def test_redis_away_while_people_write_every_effect_follows_its_return(
    private_redis, tmp_path, capsys
):
    sender, receiver = UserFactory(), UserFactory()
    env = {"REDIS_URL": private_redis.url(0), "REDIS_CACHE_URL": private_redis.url(1)}
    worker = Worker(tmp_path / "worker.log", **env).start()
    client = redis.Redis.from_url(private_redis.url(0))
    try:
        before = services.message_send(sender=sender, receiver=receiver, content="before")
        # Every effect of the first send delivered before Redis goes: its event and its
        # notification's (the log restarts empty, so one published after would count twice).
        wait_for(lambda: Notification.objects.count() == 1)
        wait_for(lambda: announced(client, receiver) == [before.pk])
        wait_for(lambda: list(received_ids(client, [receiver])) == [before.pk])
        private_redis.stop()
        sent = [
            services.message_send(sender=sender, receiver=receiver, content=f"during {n}").pk
            for n in range(10)
        ]
        time.sleep(3)  # the outage itself: the relay tries and backs off meanwhile
        assert Notification.objects.count() == 1
        private_redis.start()
        back = time.monotonic()

        def within_5_s_of_return() -> float:
            return max(0.1, back + 5 - time.monotonic())

        wait_for(lambda: Notification.objects.count() == 11, timeout=within_5_s_of_return())
        notified = time.monotonic() - back
        wait_for(
            lambda: set(received_ids(client, [receiver])) >= set(sent),
            timeout=within_5_s_of_return(),
        )
        live_after = time.monotonic() - back
        notifications_live = wait_for(
            lambda: len(announced(client, receiver)) == 10 and announced(client, receiver),
            timeout=within_5_s_of_return(),
        )
    finally:
        worker.stop()
    made_good = services.notifications_reconcile()
    report(
        capsys,
        "redis away 3 s",
        sent_during=len(sent),
        notified_after_return_s=round(notified, 2),
        live_after_return_s=round(live_after, 2),
        made_good_by_the_sweep=made_good,
    )
    assert received_ids(client, [receiver]) == Counter(sent)  # the log restarted empty
    assert sorted(notifications_live) == sorted(sent)
    assert made_good == 0
