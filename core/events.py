"""Live events: a bounded log per user in Redis, and its fan-out to the open streams.

Publishing (Celery tasks, after the commit) appends each event to its user's log, a Redis
stream trimmed by length and age, and announces it on one pub/sub channel: one script, one
round trip for a batch. Each web process holds one subscription to that channel (Hub) and
hands every event to the open streams of its user in that process, in memory. A stream that
comes back with the id of the last event it saw reads what it missed from the log (replay).

Every event records the id of the event before it in its user's log, so a reader can tell
when the log no longer holds what it missed (trimmed, or lost with a Redis restart): the
stream then says so (`stream.reset`) and the client reloads what it shows.
"""

import asyncio
import contextlib
import functools
import hashlib
import json
import logging
import re
import uuid
from collections.abc import Iterable
from dataclasses import dataclass

import redis
import redis.asyncio as aioredis
from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from redis.backoff import NoBackoff
from redis.retry import Retry

from core import redis_health, redis_urls, replicas, telemetry

logger = logging.getLogger(__name__)

# Ids are Redis stream ids: "<milliseconds>-<sequence>".
# ASCII digits only: \d would take "²" or "٣", which Redis refuses as an id.
EVENT_ID = re.compile(r"[0-9]{1,15}-[0-9]{1,15}")


def channel(url: str) -> str:
    """The channel of the Redis database in `url`: channels are server-wide, and two
    platforms on one server (different databases) must not hear each other's events."""
    return f"events:{redis_urls.database(url)}"


def log_key(user_id: int) -> str:
    return f"events:log:{user_id}"


def log_bytes_key(user_id: int) -> str:
    """The bytes of names and data the user's log holds (the byte bound's count)."""
    return f"events:log-bytes:{user_id}"


def streams_key(user_id: int) -> str:
    return f"events:open:{user_id}"


# Append (unless KEYS[3], an event's key of delivery, says it was appended already: the
# outbox relay publishing a batch again after a crash); then drop the oldest events while
# the log holds more than ARGV[4] events, more than ARGV[7] bytes of names and data (KEYS[2]
# keeps the sum), or events older than ARGV[5] seconds, the new one always kept; keep both
# keys no longer than the age; announce.
# The announcement is "<user> <id> <previous id> <name> [<traceparent> ]<data>": data (JSON)
# is last; a traceparent (core.telemetry, "00-...", never the start of JSON) only when traced.
_APPEND = """
if KEYS[3] and not redis.call('SET', KEYS[3], '1', 'NX', 'EX', ARGV[5]) then return false end
local last = redis.call('XREVRANGE', KEYS[1], '+', '-', 'COUNT', 1)
local prev = last[1] and last[1][1] or '0-0'
local id = redis.call('XADD', KEYS[1], '*', 'e', ARGV[2], 'd', ARGV[3], 'p', prev)
local bytes = redis.call('INCRBY', KEYS[2], #ARGV[2] + #ARGV[3])
local now = redis.call('TIME')
local oldest_kept = (tonumber(now[1]) - tonumber(ARGV[5])) * 1000
while true do
  local oldest = redis.call('XRANGE', KEYS[1], '-', '+', 'COUNT', 1)[1]
  if not oldest or oldest[1] == id then break end
  local too_old = tonumber(string.match(oldest[1], '^(%d+)')) < oldest_kept
  if not (too_old or bytes > tonumber(ARGV[7])
          or redis.call('XLEN', KEYS[1]) > tonumber(ARGV[4])) then break end
  redis.call('XDEL', KEYS[1], oldest[1])
  bytes = redis.call('DECRBY', KEYS[2], #oldest[2][2] + #oldest[2][4])
end
redis.call('EXPIRE', KEYS[1], ARGV[5])
redis.call('EXPIRE', KEYS[2], ARGV[5])
redis.call('PUBLISH', ARGV[6],
           ARGV[1] .. ' ' .. id .. ' ' .. prev .. ' ' .. ARGV[2] .. ' ' .. ARGV[8] .. ARGV[3])
return id
"""

# A stream may open if its user has fewer than ARGV[2] open (leases not yet expired).
_OPEN = """
local now = redis.call('TIME')
local ms = tonumber(now[1]) * 1000 + math.floor(tonumber(now[2]) / 1000)
redis.call('ZREMRANGEBYSCORE', KEYS[1], '-inf', ms)
if redis.call('ZCARD', KEYS[1]) >= tonumber(ARGV[2]) then return 0 end
redis.call('ZADD', KEYS[1], ms + tonumber(ARGV[3]), ARGV[1])
redis.call('PEXPIRE', KEYS[1], ARGV[3])
return 1
"""


@dataclass(frozen=True, slots=True)
class Event:
    id: str
    prev: str
    name: str
    data: str  # JSON text
    trace: str = ""  # the traceparent of its publish, when traced (core.telemetry)

    def encode(self) -> bytes:
        """The event in the text/event-stream format."""
        return f"id: {self.id}\nevent: {self.name}\ndata: {self.data}\n\n".encode()


def position(event_id: str) -> tuple[int, int]:
    milliseconds, _, sequence = event_id.partition("-")
    return int(milliseconds), int(sequence or 0)


# --- Publishing (synchronous: tasks) --------------------------------------------------------


_APPEND_SHA = hashlib.sha1(_APPEND.encode()).hexdigest()


@functools.cache
def _publisher(url: str) -> redis.Redis:
    # Behind the server's breaker, as the cache and the broker are: a hung Redis costs one
    # publish timeout, then publishes fail at once for a while (an edit written inline in a
    # request waited the whole timeout every time).
    guarded = (
        redis_health.GuardedSentinelConnection
        if redis_urls.sentinels(url)
        else redis_health.GuardedConnection
    )
    return redis_urls.client(
        url,
        socket_timeout=settings.EVENTS_PUBLISH_TIMEOUT,
        socket_connect_timeout=settings.EVENTS_PUBLISH_TIMEOUT,
        connection_class=guarded,
    )


def once_key(key: str) -> str:
    return f"events:once:{key}"


def publish_typed(events: Iterable[tuple], *, raise_errors: bool = False) -> int:
    """`publish` of declared events (core.event_types): each (user id, event), or (user id,
    event, key of delivery)."""
    return publish(
        ((user_id, event.event_name, event.data(), *key) for user_id, event, *key in events),
        raise_errors=raise_errors,
    )


def publish(events: Iterable[tuple], *, raise_errors: bool = False) -> int:
    """Append each (user id, event name, data) to its user's log and announce it, in one
    round trip. Returns how many were published: 0 if Redis failed (logged, not raised,
    unless `raise_errors`).

    An event may carry a fourth item, its key of delivery: an event whose key was published
    within the log's age is not appended again (the outbox relay's batches run again after a
    crash between their publish and their commit).

    Live delivery is a convenience over the database, which holds everything: a lost event
    costs a page its live update, not data (pages reload what they show when their stream
    comes back; API clients are sent `stream.reset` when the log cannot replay).
    """
    events = list(events)
    if not events:
        return 0
    # The reads an event leads to (a page reloading its list) must see what it announces.
    replicas.pin(event[0] for event in events)
    client = _publisher(settings.EVENTS_REDIS_URL)
    with telemetry.span("events.publish", events=len(events)):
        trace = telemetry.current()
        return _publish(client, events, f"{trace} " if trace else "", raise_errors)


def _publish(client, events: list[tuple], trace: str, raise_errors: bool) -> int:
    for attempt in range(2):
        pipe = client.pipeline(transaction=False)
        for user_id, name, data, *key in events:
            keys = [log_key(user_id), log_bytes_key(user_id), *map(once_key, key)]
            pipe.evalsha(
                _APPEND_SHA,
                len(keys),
                *keys,
                user_id,
                name,
                json.dumps(data, cls=DjangoJSONEncoder, separators=(",", ":")),
                settings.EVENTS_LOG_MAX_LENGTH,
                settings.EVENTS_LOG_MAX_AGE_SECONDS,
                channel(settings.EVENTS_REDIS_URL),
                settings.EVENTS_LOG_MAX_BYTES,
                trace,
            )
        # A relay's publish must outlive a failover: behind Sentinel it waits until a replica
        # holds the events, or fails (its rows stay and are published again, once).
        replicated = raise_errors and bool(redis_urls.sentinels(settings.EVENTS_REDIS_URL))
        if replicated:
            pipe.execute_command("WAIT", 1, settings.EVENTS_REPLICATION_WAIT_MS)
        try:
            results = pipe.execute()
            if replicated and results[-1] < 1:
                raise redis.ConnectionError("events not acknowledged by a replica")
            return len(events)
        except redis.exceptions.NoScriptError:
            if attempt:
                raise
            with contextlib.suppress(redis.RedisError):
                client.script_load(_APPEND)  # a new or restarted Redis: load, then again
        except redis.RedisError as error:
            if raise_errors:
                raise
            logger.warning("%d live events not published: %s", len(events), error)
            return 0
    return 0


# Announced when a user's credentials changed (a new password, a token deleted, the account
# deactivated or deleted): "<RECHECK> <user id>". Each open stream of that user checks its
# own credential again at once and ends if it no longer holds. A logout names the session
# it ends ("<RECHECK> <user id> <credential id>"): its streams end at once, before the
# session row is even gone.
RECHECK = "recheck"
# How a traced announcement's traceparent starts (its version, 00).
TRACED = "00-"


def credential_id(secret: str) -> str:
    """How announcements name a session or a token: a digest, never the secret itself."""
    return hashlib.sha256(secret.encode()).hexdigest()[:32]


def announce_recheck(user_id: int, *, revoked: str | None = None) -> None:
    """Tell every stream process to re-check the credentials of the user's streams (and to
    end those opened with the credential `revoked`, a credential_id). Best effort: a lost
    announcement leaves it to the streams' periodic re-check."""
    message = f"{RECHECK} {int(user_id)}" + (f" {revoked}" if revoked else "")
    try:
        _publisher(settings.EVENTS_REDIS_URL).publish(channel(settings.EVENTS_REDIS_URL), message)
    except redis.RedisError as error:
        logger.warning("streams of user %s not told to re-check: %s", user_id, error)


# --- Delivering (asynchronous: the stream process) -----------------------------------------


class Listener:
    """One open stream's inbox in its process: the Hub puts events in, the stream takes."""

    __slots__ = (
        "closed",
        "credential",
        "key",
        "overflowed",
        "queue",
        "queued_bytes",
        "rechecking",
        "user_id",
    )

    QUEUE_SIZE = 256

    def __init__(self, user_id: int, credential: str | None = None):
        self.user_id = user_id
        self.credential = credential  # credential_id of its session or token
        self.key = uuid.uuid4().hex
        self.queue: asyncio.Queue[Event | str | None] = asyncio.Queue(self.QUEUE_SIZE)
        self.closed = False
        # A client slower than the events: it reads the rest from the log instead.
        self.overflowed = False
        self.queued_bytes = 0
        # Its credential must be checked again (set with RECHECK in the queue, which a full
        # queue may not take: the stream reads this flag too).
        self.rechecking = False

    def deliver(self, event: Event) -> None:
        """Queue the event, unless the queue holds QUEUE_SIZE events or
        EVENTS_QUEUE_MAX_BYTES of data already: then the stream replays from the log."""
        size = len(event.data)
        if self.queued_bytes + size > settings.EVENTS_QUEUE_MAX_BYTES and self.queued_bytes:
            self.overflowed = True
            return
        try:
            self.queue.put_nowait(event)
        except asyncio.QueueFull:
            self.overflowed = True
            return
        self.queued_bytes += size

    async def next(self, timeout: float):
        """The next item of the queue (an Event, RECHECK or None), within `timeout` seconds."""
        item = await asyncio.wait_for(self.queue.get(), timeout)
        if isinstance(item, Event):
            self.queued_bytes -= len(item.data)
        return item

    def close(self) -> None:
        """End the stream (its client reconnects): None wakes it, or a full queue will."""
        self.closed = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(None)

    def recheck(self) -> None:
        """Have the stream check its credential again now (RECHECK wakes it)."""
        self.rechecking = True
        with contextlib.suppress(asyncio.QueueFull):
            self.queue.put_nowait(RECHECK)


class Replay:
    """What a reconnecting stream missed: the events, or `reset` if the log lost some."""

    __slots__ = ("events", "latest", "reset")

    def __init__(self, events: list[Event], reset: bool, latest: str | None):
        self.events, self.reset, self.latest = events, reset, latest


class Hub:
    """The process's one subscription to the events channel, multiplexed to its open streams.

    A lost or silent subscription (Redis down or hung) closes every stream at once, with
    nothing published meanwhile lost to them: their clients come back with the last id they
    saw and replay from the log, or are refused (503) until the subscription is back.
    """

    def __init__(self, url: str):
        self.url = url
        # Errors must reach us, not be retried inside redis-py (a silent resubscription
        # would hide the events published while it was away).
        self.redis = redis_urls.async_client(
            url,
            socket_connect_timeout=1,
            socket_timeout=5,
            retry=Retry(NoBackoff(), 0),
        )
        self._listeners: dict[int, set[Listener]] = {}
        self._open = self.redis.register_script(_OPEN)
        self.connected = asyncio.Event()
        self._tasks: list[asyncio.Task] = []

    # The streams

    def attach(self, listener: Listener) -> None:
        self._listeners.setdefault(listener.user_id, set()).add(listener)

    def forget(self, listener: Listener) -> None:
        listeners = self._listeners.get(listener.user_id)
        if listeners is not None:
            listeners.discard(listener)
            if not listeners:
                del self._listeners[listener.user_id]

    def open_streams(self) -> int:
        return sum(len(listeners) for listeners in self._listeners.values())

    async def lease(self, listener: Listener) -> bool:
        """Count the stream against its user's EVENTS_MAX_STREAMS_PER_USER, in every process:
        a lease that the hub renews while the stream is open and that expires if its process
        dies. False when the user has as many open already."""
        granted = await self._open(
            keys=[streams_key(listener.user_id)],
            args=[listener.key, settings.EVENTS_MAX_STREAMS_PER_USER, self._lease_ms()],
        )
        return bool(granted)

    async def release(self, listener: Listener) -> None:
        with contextlib.suppress(aioredis.RedisError, OSError):
            await self.redis.zrem(streams_key(listener.user_id), listener.key)

    async def replay(self, user_id: int, *, after: str | None, since_ms: int | None) -> Replay:
        """The events of the user's log after the id `after` (what a reconnecting client
        missed; reset if the log no longer holds all of it), or since a time in ms."""
        limit = settings.EVENTS_LOG_MAX_LENGTH + 1  # the log's exact bound, and one more
        start = f"({after}" if after else f"{since_ms}-0"
        entries = await self.redis.xrange(log_key(user_id), min=start, max="+", count=limit)
        events = [_event(entry_id, fields) for entry_id, fields in entries]
        lost = after is not None and bool(events) and events[0].prev != after
        if lost or len(events) >= limit:
            latest = await self.redis.xrevrange(log_key(user_id), count=1)
            return Replay([], reset=True, latest=latest[0][0].decode() if latest else after)
        return Replay(events, reset=False, latest=events[-1].id if events else None)

    # The subscription

    def start(self) -> None:
        if not self._tasks:
            loop = asyncio.get_running_loop()
            self._tasks = [loop.create_task(self._subscribe()), loop.create_task(self._renew())]

    async def ready(self, timeout: float) -> bool:
        """Start if needed; True once subscribed (at most `timeout` seconds from now)."""
        self.start()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self.connected.wait(), timeout)
        return self.connected.is_set()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError):
                await task
        self._tasks = []
        self.close_all()
        await self.redis.aclose()

    def close_all(self) -> None:
        """End every open stream of this process (their clients come back)."""
        for listeners in list(self._listeners.values()):
            for listener in list(listeners):
                listener.close()

    async def _subscribe(self) -> None:
        delay = 0.1
        while True:
            pubsub = self.redis.pubsub(ignore_subscribe_messages=False)
            try:
                await pubsub.subscribe(channel(self.url))
                await self._listen(pubsub)
            except (aioredis.RedisError, OSError) as error:
                if self.connected.is_set():
                    logger.warning("live events: subscription lost (%s); streams closed", error)
                    delay = 0.1
            finally:
                self.connected.clear()
                self.close_all()
                with contextlib.suppress(Exception):
                    await pubsub.aclose()
            await asyncio.sleep(delay)
            delay = min(delay * 2, 5)

    async def _listen(self, pubsub) -> None:
        quiet = settings.EVENTS_HEARTBEAT_SECONDS / 2
        pinged = False
        while True:
            message = await pubsub.get_message(timeout=quiet)
            if message is None:
                if pinged:  # a hung server answers nothing, not even an error
                    raise aioredis.ConnectionError("no answer to PING")
                await pubsub.ping()
                pinged = True
                continue
            pinged = False
            if message["type"] == "message":
                self._dispatch(message["data"])
            elif message["type"] == "subscribe":
                # From here on nothing published is missed: streams may open.
                logger.info("live events: subscribed to %s", self.url.rpartition("@")[2])
                self.connected.set()

    def _dispatch(self, payload: bytes) -> None:
        if payload.startswith(RECHECK.encode() + b" "):
            with contextlib.suppress(ValueError, IndexError):
                _, user, *revoked = payload.decode().split()
                for listener in self._listeners.get(int(user), ()):
                    if revoked and listener.credential == revoked[0]:
                        listener.close()
                    else:
                        listener.recheck()
            return
        try:
            user, event_id, prev, name, data = payload.decode().split(" ", 4)
            listeners = self._listeners.get(int(user))
        except ValueError:  # not published by core.events.publish
            logger.warning("live events: ignored a malformed announcement %r", payload[:100])
            return
        if listeners:
            trace = ""
            if data.startswith(TRACED):
                trace, _, data = data.partition(" ")
            event = Event(event_id, prev, name, data, trace)
            for listener in listeners:
                listener.deliver(event)

    def _lease_ms(self) -> int:
        return settings.EVENTS_HEARTBEAT_SECONDS * 3 * 1000

    async def _renew(self) -> None:
        """Renew the leases of this process's open streams, all in one round trip."""
        while True:
            await asyncio.sleep(settings.EVENTS_HEARTBEAT_SECONDS)
            if not self._listeners:
                continue
            with contextlib.suppress(aioredis.RedisError, OSError):
                seconds, microseconds = await self.redis.time()
                until = seconds * 1000 + microseconds // 1000 + self._lease_ms()
                pipe = self.redis.pipeline(transaction=False)
                for user_id, listeners in self._listeners.items():
                    pipe.zadd(streams_key(user_id), {lis.key: until for lis in listeners}, xx=True)
                    pipe.pexpire(streams_key(user_id), self._lease_ms())
                await pipe.execute()


def _event(entry_id: bytes, fields: dict) -> Event:
    fields = {name.decode(): value.decode() for name, value in fields.items()}
    return Event(entry_id.decode(), fields["p"], fields["e"], fields["d"])


def health() -> dict[str, int | str]:
    """For /healthz: the memory of the events' Redis, which the event logs fill (each bounded
    by EVENTS_LOG_MAX_BYTES)."""
    try:
        memory = _publisher(settings.EVENTS_REDIS_URL).info("memory")
    except redis.RedisError:
        return {"redis": "down"}
    return {"redis_used_memory_bytes": memory["used_memory"]}
