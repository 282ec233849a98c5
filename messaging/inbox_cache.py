"""Per-user cached inbox pages that are never stale and never cross users.

Each user has a version token in the cache (core.versioned_cache); every cached page of that
user is stored with the token it was computed under, and invalidating the user deletes it.
"""

import hashlib
from collections.abc import Callable

from django.core.cache import cache
from django.utils import timezone, translation
from django.utils.cache import patch_cache_control, patch_vary_headers

from core import metrics, replicas, versioned_cache
from core.batching import after_commit

PAGE_TIMEOUT = 60


def _version_key(user_id: int) -> str:
    return f"inbox:v:{user_id}"


def version_of(user_id: int) -> str:
    return versioned_cache.mint(cache, _version_key(user_id))


def invalidate(user_ids) -> None:
    # Pinned first: a page recomputed under the new version must not come from a replica
    # that has not replayed the write yet (it would be cached stale until the next one).
    replicas.pin(user_ids)
    cache.delete_many([_version_key(user_id) for user_id in set(user_ids)])


def invalidate_on_commit(*user_ids: int) -> None:
    """Invalidate these users' pages once the current transaction commits (one round trip)."""
    after_commit("inbox_cache.invalidate", user_ids, invalidate)


def _page_key(user_id: int, request) -> str:
    path = hashlib.sha256(request.get_full_path().encode()).hexdigest()[:32]
    accept = request.headers.get("Accept", "")[:100]
    # A page holds words and dates in its language and zone: one copy per language and zone.
    zone = timezone.get_current_timezone_name()
    return f"inbox:p:{user_id}:{translation.get_language()}:{zone}:{path}:{accept}"


def cached_for_user(user_id: int, request, compute: Callable[[], object]):
    """The value of `compute()` for this user and request URL, cached PAGE_TIMEOUT seconds.

    `compute` returning None means "do not cache" (an error response).
    """
    page_key = _page_key(user_id, request)
    value, version = versioned_cache.read(cache, _version_key(user_id), page_key)
    if value is not versioned_cache.MISSING:
        metrics.CACHE_LOOKUPS.labels("inbox", "hit").inc()
        return value
    metrics.CACHE_LOOKUPS.labels("inbox", "miss").inc()
    value = compute()
    if value is not None:
        versioned_cache.store(cache, page_key, version, value, PAGE_TIMEOUT)
    return value


def private(response):
    """Per-user content: no shared cache may keep it."""
    patch_cache_control(response, private=True, max_age=0)
    patch_vary_headers(response, ("Authorization", "Cookie"))
    return response
