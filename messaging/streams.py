"""The live event streams: /events/ for the pages and /api/v1/events/ for API clients.

Served by the ASGI application (config/asgi.py) ahead of Django's handler: an open stream
holds no request object, no middleware and no database connection; the database is asked
once, when the stream opens, who its user is. Events come from messaging.events.
"""

import asyncio
import functools
import logging
import re
import signal
from urllib.parse import parse_qs

from asgiref.sync import sync_to_async
from django.conf import settings
from django.contrib.auth import get_user
from django.db import DatabaseError, close_old_connections
from django.http import HttpRequest, parse_cookie
from django.utils import translation
from django.utils.module_loading import import_string
from django.utils.translation import gettext as _
from rest_framework.exceptions import AuthenticationFailed

from accounts import tokens
from accounts.authentication import ExpiringTokenAuthentication
from core import sse
from core.events import EVENT_ID, Hub, credential_id

logger = logging.getLogger(__name__)

PATHS = ("/events/", "/api/v1/events/")
# Query parameters that would carry a credential into every access log on the way.
CREDENTIALS_IN_QUERY = ("token", "access_token", "auth_token", "key", "api_key")

_hub: Hub | None = None


def hub() -> Hub:
    """This process's hub (one subscription to Redis for all of its streams)."""
    global _hub
    if _hub is None:
        _hub = Hub(settings.EVENTS_REDIS_URL)
    return _hub


@functools.cache
def _watch_for_vanished_clients() -> None:
    """Once, at the first stream: the server listens by then (uvicorn binds its socket
    after the lifespan's start-up)."""
    sse.end_streams_of_vanished_clients()


def with_streams(django_application):
    """The ASGI application: the stream paths here, everything else to Django."""

    async def application(scope, receive, send):
        if scope["type"] == "http" and scope["path"] in PATHS:
            await stream(scope, receive, send)
        elif scope["type"] == "lifespan":
            await lifespan(receive, send)
        else:
            await django_application(scope, receive, send)

    return application


async def lifespan(receive, send) -> None:
    global _hub
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            hub().start()
            _end_streams_on_stop(asyncio.get_running_loop())
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if _hub is not None:  # open streams end: their clients reconnect elsewhere
                await _hub.stop()
                _hub = None
            await send({"type": "lifespan.shutdown.complete"})
            return


def _end_streams_on_stop(loop) -> None:
    """On SIGTERM or SIGINT, end the open streams at once, then stop as the server would.

    The server waits for open responses before it stops, and a stream never ends by
    itself: without this every restart would wait out the server's graceful timeout, then
    cancel the streams with an error. Their clients reconnect (to another process)."""
    for number in (signal.SIGTERM, signal.SIGINT):
        server_handler = signal.getsignal(number)
        if not callable(server_handler):
            continue

        def handler(signum, frame, server_handler=server_handler):
            if _hub is not None:
                loop.call_soon_threadsafe(_hub.close_all)
            server_handler(signum, frame)

        signal.signal(number, handler)


async def stream(scope, receive, send) -> None:
    headers = {name.decode("latin-1"): value.decode("latin-1") for name, value in scope["headers"]}
    # No middleware here: the errors speak the language LocaleMiddleware would choose.
    _watch_for_vanished_clients()
    with translation.override(language(headers)):
        await _stream(scope, headers, receive, send)


def language(headers: dict[str, str]) -> str:
    """The language of the request: the header's switch (a cookie), else Accept-Language."""
    request = HttpRequest()
    request.COOKIES = parse_cookie(headers.get("cookie", ""))
    request.META["HTTP_ACCEPT_LANGUAGE"] = headers.get("accept-language", "")
    return translation.get_language_from_request(request)


async def _stream(scope, headers: dict[str, str], receive, send) -> None:
    if scope["method"] != "GET":
        await sse.respond(send, 405, _("Only GET opens an event stream."), [(b"allow", b"GET")])
        return
    query = parse_qs(scope["query_string"].decode("latin-1"))
    if any(name in query for name in CREDENTIALS_IN_QUERY):
        await sse.respond(
            send,
            400,
            _(
                "Credentials in the URL are refused (they end up in access logs): "
                "send 'Authorization: Token <key>'."
            ),
        )
        return
    after = headers.get("last-event-id") or query.get("last_event_id", [None])[0]
    if after is not None and not EVENT_ID.fullmatch(after):
        await sse.respond(send, 400, _("Last-Event-ID must be the id of an event of this stream."))
        return
    since = query.get("since", [None])[0]
    if since is not None and not re.fullmatch(r"[0-9]{1,15}", since):  # not "²": int() refuses
        await sse.respond(send, 400, _("since must be a time in milliseconds since 1970."))
        return
    try:
        found = await sync_to_async(authenticate)(headers)
    except AuthenticationFailed as error:
        found, reason = None, str(error.detail)
    else:
        reason = _("Authentication credentials were not provided.")
    if found is None:
        await sse.respond(send, 401, reason, [(b"www-authenticate", b"Token")])
        return
    user_id, expires_at, credential = found
    await sse.serve(
        hub(),
        user_id,
        after=after,
        since_ms=int(since) if since is not None and after is None else None,
        receive=receive,
        send=send,
        credential=sse.Credential(expires_at, still_valid(headers, user_id), credential),
    )


def authenticate(headers: dict[str, str]) -> tuple[int, float, str] | None:
    """The stream's user id, when its credential expires (a Unix time) and the credential's
    id (core.events.credential_id): by its API token
    (Authorization: Token ...), or by its session cookie as Django's login keeps it (the
    session's password hash checked, as for any request). None for nobody;
    AuthenticationFailed for a bad or expired token. Run again while the stream is open: a
    stream lives only as long as this holds."""
    close_old_connections()  # what Django does at each request: drop a broken connection
    authorization = headers.get("authorization", "").split()
    if authorization and authorization[0].lower() == "token":
        if len(authorization) != 2:
            raise AuthenticationFailed(_("Invalid token header: 'Authorization: Token <key>'."))
        user, token = ExpiringTokenAuthentication().authenticate_credentials(authorization[1])
        return user.pk, tokens.expires_at(token).timestamp(), credential_id(token.key)
    request = HttpRequest()
    session_key = parse_cookie(headers.get("cookie", "")).get(settings.SESSION_COOKIE_NAME)
    request.session = import_string(f"{settings.SESSION_ENGINE}.SessionStore")(session_key)
    user = get_user(request)
    if not user.is_authenticated:
        return None
    expires_at = request.session.get_expiry_date().timestamp()
    return user.pk, expires_at, credential_id(request.session.session_key)


def still_valid(headers: dict[str, str], user_id: int):
    """The stream's re-check: its credential still names `user_id` (core.sse asks at once
    when told the user's credentials changed, and at every heartbeat)."""

    async def check() -> bool:
        try:
            found = await sync_to_async(authenticate)(headers)
        except AuthenticationFailed:
            return False
        except DatabaseError:  # cannot tell: the next check will
            logger.warning("stream of user %s: its credential could not be re-checked", user_id)
            return True
        return found is not None and found[0] == user_id

    return check
