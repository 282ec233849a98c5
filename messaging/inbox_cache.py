"""Per-user cached inbox pages that are never stale and never cross users.

Each user has a version token in the cache; every cached page of that user is keyed by it.
Invalidating deletes the token, so the next read mints a new one and the old pages, keyed by
a token nobody will ask for again, expire on their own. A random token rather than a
counter: a counter reset by eviction could bring an old page back to life.
"""

import hashlib
import uuid
from collections.abc import Callable
from functools import wraps

from django.core.cache import cache
from django.utils.cache import patch_cache_control, patch_vary_headers
from rest_framework.response import Response

from maintenance.batching import after_commit

PAGE_TIMEOUT = 60


def _version_key(user_id: int) -> str:
    return f"inbox:v:{user_id}"


def version_of(user_id: int) -> str:
    return cache.get_or_set(_version_key(user_id), uuid.uuid4().hex, timeout=None)


def invalidate(user_ids) -> None:
    cache.delete_many([_version_key(user_id) for user_id in set(user_ids)])


def invalidate_on_commit(*user_ids: int) -> None:
    """Invalidate these users' pages once the current transaction commits (one round trip)."""
    after_commit("inbox_cache.invalidate", user_ids, invalidate)


def page_key(user_id: int, request) -> str:
    path = hashlib.sha256(request.get_full_path().encode()).hexdigest()[:32]
    accept = request.headers.get("Accept", "")[:100]
    return f"inbox:p:{user_id}:{version_of(user_id)}:{path}:{accept}"


def cache_per_user(view: Callable) -> Callable:
    """Cache a DRF list view's data per user and per version for PAGE_TIMEOUT seconds.

    The response data (not the rendered bytes) is cached, so content negotiation still runs
    on every request. Responses are marked private so no shared proxy keeps them.
    """

    @wraps(view)
    def wrapper(self, request, *args, **kwargs):
        key = page_key(request.user.pk, request)
        data = cache.get(key)
        if data is None:
            response = view(self, request, *args, **kwargs)
            if response.status_code == 200:
                cache.set(key, response.data, PAGE_TIMEOUT)
        else:
            response = Response(data)
        patch_cache_control(response, private=True, max_age=0)
        patch_vary_headers(response, ("Authorization", "Cookie"))
        return response

    return wrapper
