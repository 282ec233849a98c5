"""Throttles of every login and sign-up path, the API's and the web forms' alike: per client
address (DRF's `auth` scope) and, for logins, per username from whatever address
(`auth_username`). The web forms count in the same buckets as the API, so one guesser is
slowed down the same wherever it posts."""

import hashlib

from rest_framework.throttling import SimpleRateThrottle

from core import throttles as core_throttles


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


def throttle_form_posts(*, per_username: bool):
    """Refuse a login or sign-up form's POSTs over the API's `auth` rates."""
    return core_throttles.throttle_page("auth", *([UsernameRateThrottle] if per_username else []))
