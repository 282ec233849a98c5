"""cache_result: memoise a function's return value on the Redis cache.

    @cache_result(timeout=300)
    def product_stats(product, date_range):
        ...

    product_stats(product, {"from": "2026-01-01"})   # computed, then cached 5 minutes
    product_stats.invalidate(product, {"from": "2026-01-01"})   # drop that entry
    product_stats.invalidate_all()                               # drop every entry

Keys are built from the function's module and qualified name and a canonical JSON form of
its arguments (model instances by model label and primary key, dicts by sorted keys), so
they are the same in every process and across restarts. A cached None or other falsey
value is a hit. When an entry is missing, one caller computes it under a short Redis lock
while concurrent callers wait for its result instead of computing it too. If the cache is
down, the function is simply called.
"""

import datetime
import decimal
import hashlib
import json
import logging
import time
import uuid
from collections.abc import Callable
from functools import wraps

from django.core.cache import caches
from django.db import models

from core import versioned_cache
from core.versioned_cache import MISSING

logger = logging.getLogger(__name__)

# How long a computing caller holds the lock (its death frees it after this), and how long
# the others wait for its result before computing it themselves.
LOCK_SECONDS = 30
WAIT_SECONDS = 10
POLL_SECONDS = 0.02


def cache_result(
    timeout: int | None = 300, *, key_prefix: str | None = None, cache_alias: str = "default"
) -> Callable:
    """Cache the decorated function's results for `timeout` seconds (None: no expiry)."""

    def decorator(func: Callable) -> Callable:
        name = key_prefix or f"{func.__module__}.{func.__qualname__}"
        generation_key = f"cache_result:{name}:generation"

        def entry_key(args, kwargs) -> str:
            return f"cache_result:{name}:{_fingerprint(args, kwargs)}"

        @wraps(func)
        def wrapper(*args, **kwargs):
            cache = caches[cache_alias]
            key = entry_key(args, kwargs)
            # The entry is valid only while the generation it was computed in is current
            # (invalidate_all replaces it): core.versioned_cache.
            value, generation = versioned_cache.read(cache, generation_key, key)
            if value is not MISSING:
                return value
            lock_key = f"{key}:lock"
            if cache.add(lock_key, 1, LOCK_SECONDS):
                try:
                    return _compute_and_store(cache, func, args, kwargs, key, generation, timeout)
                finally:
                    cache.delete(lock_key)
            value = _wait_for(cache, key, lock_key, generation)
            if value is not MISSING:
                return value
            return _compute_and_store(cache, func, args, kwargs, key, generation, timeout)

        def invalidate(*args, **kwargs) -> None:
            caches[cache_alias].delete(entry_key(args, kwargs))

        def invalidate_all() -> None:
            caches[cache_alias].delete(generation_key)

        wrapper.invalidate = invalidate
        wrapper.invalidate_all = invalidate_all
        return wrapper

    return decorator


def _compute_and_store(cache, func, args, kwargs, key, generation, timeout):
    value = func(*args, **kwargs)
    versioned_cache.store(cache, key, generation, value, timeout)
    return value


def _wait_for(cache, key: str, lock_key: str, generation: str):
    """Poll for the lock holder's result; MISSING once the lock is gone or the wait is over."""
    deadline = time.monotonic() + WAIT_SECONDS
    while time.monotonic() < deadline:
        time.sleep(POLL_SECONDS)
        found = cache.get_many([key, lock_key])
        if (value := versioned_cache.current(found.get(key), generation)) is not MISSING:
            return value
        if lock_key not in found:  # the holder finished or died, or the cache is down
            break
    return MISSING


def _fingerprint(args: tuple, kwargs: dict) -> str:
    canonical = json.dumps(
        [args, kwargs], sort_keys=True, default=_canonical, separators=(",", ":")
    )
    return hashlib.sha256(canonical.encode()).hexdigest()


def _canonical(value):
    """JSON form of argument types json does not know; stable across processes."""
    if isinstance(value, models.Model):
        return {"model": value._meta.label_lower, "pk": value.pk}
    if isinstance(value, set | frozenset):
        return sorted(value, key=repr)
    if isinstance(value, datetime.date | datetime.time):
        return value.isoformat()
    if isinstance(value, decimal.Decimal | uuid.UUID):
        return str(value)
    raise TypeError(
        f"cache_result cannot build a key from an argument of type {type(value).__name__}; "
        "pass plain values, model instances, or give the type a stable JSON form"
    )
