"""Per-user cached inbox pages that are never stale and never cross users.

Each user has a version token in the cache; every cached page of that user is stored with
the token it was computed under. Invalidating deletes the token, so the next read mints a
new one and no old page matches it any more. A random token rather than a counter: a
counter reset by eviction could bring an old page back to life.
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


def _page_key(user_id: int, request) -> str:
    path = hashlib.sha256(request.get_full_path().encode()).hexdigest()[:32]
    accept = request.headers.get("Accept", "")[:100]
    return f"inbox:p:{user_id}:{path}:{accept}"


def cached_for_user(user_id: int, request, compute: Callable[[], object]):
    """The value of `compute()` for this user and request URL, cached PAGE_TIMEOUT seconds.

    A page is stored with the version token it was computed under and is served only while
    that token is current; the token and the page are read in one round trip. `compute`
    returning None means "do not cache" (an error response).
    """
    version_key, page_key = _version_key(user_id), _page_key(user_id, request)
    found = cache.get_many([version_key, page_key])
    version, page = found.get(version_key), found.get(page_key)
    if version is not None and page is not None and page["version"] == version:
        return page["data"]
    # Take the token before reading the data: a write that lands meanwhile replaces the
    # token, so this page, stored under the old one, is never served.
    version = version or version_of(user_id)
    value = compute()
    if value is not None:
        cache.set(page_key, {"version": version, "data": value}, PAGE_TIMEOUT)
    return value


def private(response):
    """Per-user content: no shared cache may keep it."""
    patch_cache_control(response, private=True, max_age=0)
    patch_vary_headers(response, ("Authorization", "Cookie"))
    return response


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
