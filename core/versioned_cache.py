"""Cache entries that are never stale: each is stored with the version token it was computed
under and served only while that token is current.

Invalidating deletes the token; the next read mints a new one and no older entry matches it
any more. A random token rather than a counter: a counter reset by eviction could bring an
old entry back to life. The token and the entry are read in one round trip. Used by the
per-user inbox pages (messaging.inbox_cache) and by cache_result (core.cache).
"""

import uuid

MISSING = object()


def read(cache, version_key: str, entry_key: str) -> tuple[object, str]:
    """(the entry's value, or MISSING; the current version, minted if there was none).

    Take the version before computing a value to store: a write that lands meanwhile
    replaces it, so the value, stored under the old one, is never served.
    """
    found = cache.get_many([version_key, entry_key])
    version = found.get(version_key)
    value = current(found.get(entry_key), version)
    return value, version or mint(cache, version_key)


def current(entry, version: str | None):
    """The value of a stored entry if it was stored under `version`, else MISSING."""
    if version is not None and isinstance(entry, tuple) and len(entry) == 2:
        stored_version, value = entry
        if stored_version == version:
            return value
    return MISSING


def mint(cache, version_key: str) -> str:
    """The current version, a new one if there is none (or "" if the cache is down).

    Works on a Django cache and on django-redis's client (which raises its errors).
    """
    token = uuid.uuid4().hex
    if cache.add(version_key, token, None):
        return token
    return cache.get(version_key) or ""


def store(cache, entry_key: str, version: str, value, timeout: float | None) -> None:
    cache.set(entry_key, (version, value), timeout)
