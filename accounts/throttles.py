"""Throttles of the API beyond DRF's per-client scopes."""

import hashlib

from rest_framework.throttling import SimpleRateThrottle


class UsernameRateThrottle(SimpleRateThrottle):
    """Token requests for one username, from whatever addresses they come (a password
    guessed from many addresses); per client they are the `auth` scope's."""

    scope = "auth_username"

    def get_cache_key(self, request, view):
        username = request.data.get("username") if hasattr(request.data, "get") else None
        if not isinstance(username, str) or not username.strip():
            return None  # the serializer refuses it
        ident = hashlib.sha256(username.strip().casefold().encode()).hexdigest()
        return self.cache_format % {"scope": self.scope, "ident": ident}
