"""Server-Sent Events over ASGI: one user's live events, what they missed first, then live.

https://html.spec.whatwg.org/multipage/server-sent-events.html
"""

import asyncio
import contextlib
import json
import os
import socket
import stat
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

import redis.asyncio as aioredis
from django.conf import settings
from django.utils.translation import gettext as _

from core import metrics, telemetry
from core.event_types import StreamReset
from core.events import RECHECK, Event, Hub, Listener, Replay, position

HEADERS = [
    (b"content-type", b"text/event-stream; charset=utf-8"),
    (b"cache-control", b"no-store"),
    # nginx: pass each event on as it comes, do not buffer the response.
    (b"x-accel-buffering", b"no"),
    (b"x-content-type-options", b"nosniff"),
]
HEARTBEAT = b":\n\n"  # a comment: keeps proxies from closing an idle connection
# The event whose push ends a send's way to its receiver: its data holds the message's
# commit time (core.metrics.PUSH_LAG).
DELIVERED = "message.received"
_COMMITTED_AT = '"timestamp":"'


async def respond(send, status: int, detail: str, headers: list[tuple[bytes, bytes]] = ()):
    """A JSON error response, as the rest of the API answers them."""
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"cache-control", b"no-store"),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": json.dumps({"detail": detail}).encode()})


@dataclass(frozen=True)
class Credential:
    """What a stream was opened with: when it expires (a Unix time) and how to check that
    it still holds (an async callable: False once logged out, the password changed, the
    token deleted or replaced, the account deactivated or deleted)."""

    expires_at: float
    still_valid: Callable[[], Awaitable[bool]]
    id: str | None = None  # core.events.credential_id of the session or token


async def serve(
    hub: Hub,
    user_id: int,
    *,
    after: str | None,
    since_ms: int | None,
    receive,
    send,
    credential: Credential,
) -> None:
    """Stream `user_id`'s events: those after the event id `after` (or since `since_ms`)
    from the log first, then live ones, until the client leaves, the hub closes it, or its
    credential ends: at its expiry, when the user's credentials change (RECHECK, announced
    by the platform) and no longer hold, or at a heartbeat's re-check."""

    async def unavailable():
        detail = _("Live events are unavailable for now; try again soon.")
        await respond(send, 503, detail, [(b"retry-after", b"5")])

    if not await hub.ready(timeout=1.0):
        await unavailable()
        return
    listener = Listener(user_id, credential.id)
    try:
        leased = await hub.lease(listener)
    except (aioredis.RedisError, OSError):
        await unavailable()
        return
    if not leased:
        limit = settings.EVENTS_MAX_STREAMS_PER_USER
        await respond(
            send,
            429,
            _("You have %(limit)d event streams open, the most allowed; close one first.")
            % {"limit": limit},
            [(b"retry-after", str(settings.EVENTS_HEARTBEAT_SECONDS * 3).encode())],
        )
        return
    if not hub.connected.is_set():  # lost while leasing: nothing may open on a dead hub
        await hub.release(listener)
        await unavailable()
        return
    hub.attach(listener)  # before reading the log: nothing published from here is missed
    metrics.STREAMS_OPEN.inc()
    watcher = asyncio.get_running_loop().create_task(_watch(receive, listener))
    try:
        await send({"type": "http.response.start", "status": 200, "headers": HEADERS})
        await _body(send, f"retry: {settings.EVENTS_RETRY_MS}\n\n".encode())
        floor = since_ms if since_ms is not None else int(time.time() * 1000)
        last = after
        if after is not None or since_ms is not None:
            missed = await hub.replay(user_id, after=after, since_ms=since_ms)
            last = await _replay(send, missed, last)
        heartbeat = settings.EVENTS_HEARTBEAT_SECONDS
        next_check = time.monotonic() + heartbeat
        while not listener.closed:
            timeout = min(heartbeat, max(credential.expires_at - time.time(), 0))
            try:
                event = await listener.next(timeout)
            except TimeoutError:
                event = HEARTBEAT
            if time.time() >= credential.expires_at:
                break  # the session or token expired: the client must sign in again
            if event is None:  # closed by the hub (Redis lost) or the server stopping
                await _body(send, f"retry: {settings.EVENTS_RETRY_MS}\n\n".encode())
                break
            if listener.rechecking or time.monotonic() >= next_check:
                listener.rechecking = False
                next_check = time.monotonic() + heartbeat
                if not await credential.still_valid():
                    break  # reconnecting, its client meets the 401 it now deserves
            if event is HEARTBEAT:
                await _body(send, HEARTBEAT)
                continue
            if event == RECHECK:
                continue
            if last is not None and position(event.id) <= position(last):
                continue  # already sent from the log
            if listener.overflowed or (last is not None and event.prev != last):
                # Something was dropped (a slow client) or came in another order: the log
                # has it all, in order.
                listener.overflowed = False
                while not listener.queue.empty():
                    listener.queue.get_nowait()
                listener.queued_bytes = 0
                missed = await hub.replay(user_id, after=last, since_ms=None if last else floor)
                last = await _replay(send, missed, last)
                continue
            await _push(send, event)
            last = event.id
    except (aioredis.RedisError, OSError):
        pass  # the log is unreachable: end the stream, the client comes back with its id
    finally:
        watcher.cancel()
        hub.forget(listener)
        metrics.STREAMS_OPEN.dec()
        await hub.release(listener)
        with contextlib.suppress(Exception):
            await send({"type": "http.response.body", "body": b"", "more_body": False})


async def _replay(send, replay: Replay, last: str | None) -> str | None:
    if replay.reset:
        metrics.STREAM_RESETS.inc()
        # Its id moves the client past what is lost; the client reloads what it shows.
        head = f"id: {replay.latest}\n" if replay.latest else ""
        data = StreamReset(reason="events missed").model_dump_json()
        await _body(send, f"{head}event: {StreamReset.event_name}\ndata: {data}\n\n".encode())
        return replay.latest or last
    if replay.events:
        metrics.STREAM_REPLAYS.inc()
    for event in replay.events:
        await _push(send, event)
    return replay.latest or last


async def _push(send, event: Event) -> None:
    """Write an event to the stream: counted, its lag observed, traced if it was."""
    if event.trace and telemetry.enabled():
        with telemetry.span("events.push", [event.trace], event=event.name):
            await _body(send, event.encode())
    else:
        await _body(send, event.encode())
    metrics.EVENTS_PUSHED.labels(event.name).inc()
    if event.name == DELIVERED:
        metrics.observe_lag(metrics.PUSH_LAG, _committed_at(event.data))


def _committed_at(data: str) -> datetime | None:
    """The message's time in a "message.received" event's data, found without parsing it."""
    start = data.find(_COMMITTED_AT)
    if start < 0:
        return None
    start += len(_COMMITTED_AT)
    with contextlib.suppress(ValueError):
        return datetime.fromisoformat(data[start : data.index('"', start)])
    return None


async def _body(send, chunk: bytes) -> None:
    await send({"type": "http.response.body", "body": chunk, "more_body": True})


async def _watch(receive, listener: Listener) -> None:
    """Close the stream when its client disconnects."""
    while (await receive())["type"] != "http.disconnect":
        pass
    listener.close()


def end_streams_of_vanished_clients() -> int:
    """Make the kernel end a stream whose client stopped acknowledging (its network gone):
    on this process's listening TCP sockets, whose options every accepted connection
    inherits, TCP_USER_TIMEOUT of two heartbeats (the heartbeat is data the client must
    acknowledge) and keepalive. The stream then sees its client disconnect and frees its
    slot, instead of holding it until TCP gave up (945 s). ASGI servers do not hand the
    application their sockets: they are found among the process's descriptors (Linux).
    Returns how many listening sockets were set."""
    user_timeout_ms = 2 * settings.EVENTS_HEARTBEAT_SECONDS * 1000
    descriptors = Path("/proc/self/fd")
    if not descriptors.is_dir() or not hasattr(socket, "TCP_USER_TIMEOUT"):
        return 0  # not Linux: streams end when TCP gives up
    done = 0
    for entry in descriptors.iterdir():
        with contextlib.suppress(OSError, ValueError):
            fd = int(entry.name)
            if not stat.S_ISSOCK(os.fstat(fd).st_mode):
                continue
            with socket.socket(fileno=os.dup(fd)) as listener:
                if listener.family not in (socket.AF_INET, socket.AF_INET6):
                    continue
                if not listener.getsockopt(socket.SOL_SOCKET, socket.SO_ACCEPTCONN):
                    continue
                listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_USER_TIMEOUT, user_timeout_ms)
                listener.setsockopt(socket.SOL_SOCKET, socket.SO_KEEPALIVE, 1)
                listener.setsockopt(
                    socket.IPPROTO_TCP, socket.TCP_KEEPIDLE, settings.EVENTS_HEARTBEAT_SECONDS
                )
                listener.setsockopt(
                    socket.IPPROTO_TCP, socket.TCP_KEEPINTVL, settings.EVENTS_HEARTBEAT_SECONDS
                )
                listener.setsockopt(socket.IPPROTO_TCP, socket.TCP_KEEPCNT, 2)
                done += 1
    return done
