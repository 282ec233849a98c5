"""Throttles of every login and sign-up path, the API's and the web forms' alike: per client
address (DRF's `auth` scope) and, for logins, per username from whatever address
(`auth_username`). The web forms count in the same buckets as the API, so one guesser is
slowed down the same wherever it posts."""

import hashlib
from functools import wraps

from django.shortcuts import render
from rest_framework.exceptions import Throttled
from rest_framework.throttling import ScopedRateThrottle, SimpleRateThrottle


class UsernameRateThrottle(SimpleRateThrottle):
    """Logins for one username, from whatever addresses they come (a password guessed from
    many addresses); per client they are the `auth` scope's."""

    scope = "auth_username"

    def get_cache_key(self, request, view):
        data = getattr(request, "data", request.POST)  # DRF's request, or a form's
        username = data.get("username") if hasattr(data, "get") else None
        if not isinstance(username, str) or not username.strip():
            return None  # the serializer or the form refuses it
        ident = hashlib.sha256(username.strip().casefold().encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}


class _AuthScope:
    """What ScopedRateThrottle reads of a view."""

    throttle_scope = "auth"


def throttle_form_posts(*, per_username: bool):
    """Refuse a view's POSTs over the API's `auth` rates with the API's 429, its message and
    Retry-After (a page for people)."""
    throttles = [ScopedRateThrottle, *([UsernameRateThrottle] if per_username else [])]

    def decorator(view):
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if request.method == "POST":
                waits = [
                    throttle.wait()
                    for throttle in (cls() for cls in throttles)
                    if not throttle.allow_request(request, _AuthScope)
                ]
                if waits:
                    wait = max(w or 0 for w in waits)
                    detail = Throttled(wait=wait).detail
                    response = render(request, "429.html", {"detail": detail}, status=429)
                    response["Retry-After"] = str(int(wait) + 1)
                    return response
            return view(request, *args, **kwargs)

        return wrapper

    return decorator
