"""Per-user caching of the API's list views (messaging.inbox_cache)."""

from collections.abc import Callable
from functools import wraps

from rest_framework.response import Response

from messaging.inbox_cache import cached_for_user, private


def cache_per_user(view: Callable) -> Callable:
    """Cache a DRF list view's response data per user (see cached_for_user).

    The data, not the rendered bytes, is cached, so content negotiation still runs on every
    request.
    """

    @wraps(view)
    def wrapper(self, request, *args, **kwargs):
        computed = []

        def compute():
            response = view(self, request, *args, **kwargs)
            computed.append(response)
            return response.data if response.status_code == 200 else None

        data = cached_for_user(request.user.pk, request, compute)
        return private(computed[0] if computed else Response(data))

    return wrapper
