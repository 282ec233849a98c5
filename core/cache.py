"""cache_result: memoise a function's return value on the Redis cache.

    @cache_result(timeout=300)
    def product_stats(product, date_range):
        ...

    product_stats(product, {"from": "2026-01-01"})   # computed, then cached 5 minutes
    product_stats.invalidate(product, {"from": "2026-01-01"})   # drop that entry
    product_stats.invalidate_all()                               # drop every entry
    product_stats.refresh(product, {"from": "2026-01-01"})      # compute and store now
    product_stats.cache_key(product, {"from": "2026-01-01"})    # the entry's key
    product_stats.cache_stats()                                  # {"hits": ..., "misses": ...}

The rules:

- **One call, one entry.** The arguments are bound to the signature, defaults applied, so
  `f(1, 2)`, `f(1, b=2)` and `f(1)` (with `b=2` the default) share an entry, and
  `invalidate` follows the same rule. What can be an argument, and how each is keyed (with
  its type: `"1.5"` and `Decimal("1.5")` are two entries), is in core.cache_keys.
- **Methods**: `self` is keyed like any argument, so give the class a `cache_key()` method
  (or pass `key=`); a classmethod's `cls` is keyed by its dotted path.
  `key=lambda *args, **kwargs: ...` replaces the arguments by what it returns.
- **Names**: entries are named after the function's module and qualified name; a lambda or
  a function made inside another (whose name others share) needs `key_prefix=`. Async
  functions are refused (a coroutine cannot be stored).
- A cached None or other falsey value is a hit. A value that cannot be pickled is returned,
  not stored (logged once).
- **One computation at a time**: a missing entry is computed by one caller under a short
  lock that it renews while it computes; the others wait for its result, and compute it
  themselves if the lock holder dies (the lock expires within LOCK_SECONDS).
- **Never stale**: a value computed before an `invalidate()` or `invalidate_all()` is not
  stored after it (the store is conditional on the entry's version and the function's
  generation, in one Lua script). `invalidate_all()` also deletes the superseded entries.
- **Cache down or hung**: the function is simply called. After a cache error (a refused
  connection, or a socket timeout of CACHE_SOCKET_TIMEOUT on a hung Redis) this process
  skips the cache's server for a few seconds (its breaker in core.redis_health, the one the
  cache's connections and the broker's share), so later calls do not each wait out a timeout.
- **Size**: a value whose pickle is larger than CACHE_MAX_VALUE_BYTES is returned, not
  stored (logged once): writing it would be slow enough to pass for a dead Redis.
- **Counts**: hits and misses per function are kept in the process and added to the cache
  every STATS_FLUSH_CALLS calls or STATS_FLUSH_SECONDS; `manage.py cache_result_stats`
  shows them for every function.
"""

import contextlib
import inspect
import logging
import pickle
import time
import uuid
from collections.abc import Callable
from functools import wraps

from django.conf import settings
from django.core.cache import caches

from core import cache_keys, metrics, redis_health, versioned_cache
from core.locks import Renewal
from core.versioned_cache import MISSING

logger = logging.getLogger(__name__)

# A computing caller holds the lock this long and renews it every RENEW_SECONDS: its death
# frees the entry within LOCK_SECONDS. The others wait at most WAIT_SECONDS for its result.
LOCK_SECONDS = 3
RENEW_SECONDS = 1
WAIT_SECONDS = 10
POLL_SECONDS = 0.02
# How long an invalidation marker outlives an entry with no expiry (a computation in flight
# longer than this could store a stale value).
MARKER_SECONDS = 24 * 3600
STATS_FLUSH_CALLS = 100
_RESULTS = {"hits": "hit", "misses": "miss"}
STATS_FLUSH_SECONDS = 10
STATS_PREFIX = "cache_result:stats:"

# The store of an entry, only if neither the function's generation nor the entry's
# invalidation marker changed since the computation began (missing: the empty string).
_STORE_IF_CURRENT = """
local function same(key, expected)
  local current = redis.call('get', key)
  if not current then return expected == '' end
  return current == expected
end
if same(KEYS[1], ARGV[1]) and same(KEYS[2], ARGV[2]) then
  if ARGV[4] == '' then
    redis.call('set', KEYS[3], ARGV[3])
  else
    redis.call('set', KEYS[3], ARGV[3], 'PX', ARGV[4])
  end
  return 1
end
return 0
"""


def cache_result(
    timeout: float | Callable | None = 300,
    *,
    key_prefix: str | None = None,
    key: Callable | None = None,
    cache_alias: str = "default",
) -> Callable:
    """Cache the decorated function's results for `timeout` seconds (None: no expiry).

    `@cache_result` alone uses the defaults.
    """
    if callable(timeout):  # @cache_result without parentheses
        return cache_result()(timeout)

    def decorator(func: Callable) -> Callable:
        return _Memoised(func, timeout, key_prefix, key, cache_alias).function()

    return decorator


class _Memoised:
    def __init__(self, func, timeout, key_prefix, key, cache_alias):
        if inspect.iscoroutinefunction(func) or inspect.isasyncgenfunction(func):
            raise TypeError(
                f"cache_result cannot cache the async function {func.__qualname__}: its "
                "calls return coroutines, which cannot be stored"
            )
        qualname = getattr(func, "__qualname__", None)
        if qualname is None:
            raise TypeError(f"cache_result decorates functions, not {type(func).__name__}")
        if key_prefix is None and ("<lambda>" in qualname or "<locals>" in qualname):
            raise TypeError(
                f"cache_result cannot tell {func.__module__}.{qualname} from other functions "
                "of that name (a lambda, or a function made inside another, shares it): "
                "give it key_prefix='...'"
            )
        self.func, self.timeout, self.cache_alias = func, timeout, cache_alias
        self.name = key_prefix or f"{func.__module__}.{qualname}"
        self.generation_key = f"cache_result:{self.name}:generation"
        self.arguments = key or _binder(func)
        self.counts = {"hits": 0, "misses": 0}
        self.flushed_at, self.calls = time.monotonic(), 0
        self.unstored_logged = False

    def function(self) -> Callable:
        @wraps(self.func)
        def wrapper(*args, **kwargs):
            return self.call(args, kwargs)

        wrapper.invalidate = lambda *args, **kwargs: self.invalidate(self.key(args, kwargs))
        wrapper.invalidate_all = self.invalidate_all
        wrapper.refresh = lambda *args, **kwargs: self.refresh(args, kwargs)
        wrapper.cache_key = lambda *args, **kwargs: self.key(args, kwargs)
        wrapper.cache_stats = self.stats
        return wrapper

    def key(self, args: tuple, kwargs: dict) -> str:
        return f"cache_result:{self.name}:{cache_keys.digest(self.arguments(*args, **kwargs))}"

    # --- Calls ----------------------------------------------------------------------------

    def call(self, args: tuple, kwargs: dict):
        key = self.key(args, kwargs)
        cache = self.cache()
        if cache is None:
            return self.counted("misses", self.func(*args, **kwargs))
        try:
            found = cache.get_many([self.generation_key, key, f"{key}:v"])
        except Exception as error:
            self.down(error)
            return self.counted("misses", self.func(*args, **kwargs))
        generation = found.get(self.generation_key)
        value = versioned_cache.current(found.get(key), generation)
        if value is not MISSING:
            return self.counted("hits", value)
        try:
            return self.compute_once(cache, args, kwargs, key, generation, found.get(f"{key}:v"))
        except _CacheFailed as failed:
            self.down(failed.__cause__)
            return self.counted("misses", self.func(*args, **kwargs))

    def compute_once(self, cache, args, kwargs, key, generation, marker):
        """Compute under the entry's lock, or wait for the caller that holds it."""
        lock_key = f"{key}:lock"
        generation = generation or _safely(lambda: versioned_cache.mint(cache, self.generation_key))
        if not _safely(lambda: cache.add(lock_key, uuid.uuid4().hex, LOCK_SECONDS)):
            value = self.wait_for(cache, key, lock_key, generation)
            if value is not MISSING:
                return self.counted("hits", value)
            return self.compute_and_store(cache, args, kwargs, key, generation, marker)
        renewal = Renewal(
            lambda: cache.touch(lock_key, LOCK_SECONDS), every=RENEW_SECONDS, name=lock_key
        )
        try:
            return self.compute_and_store(cache, args, kwargs, key, generation, marker)
        finally:
            renewal.stop()
            try:
                cache.delete(lock_key)
            except Exception as error:  # it expires by itself
                self.down(error)

    def compute_and_store(self, cache, args, kwargs, key, generation, marker):
        value = self.func(*args, **kwargs)
        try:
            self.store(cache, key, generation, marker, value)
        except _CacheFailed as failed:  # computed already: return it, uncached
            self.down(failed.__cause__)
        return self.counted("misses", value)

    def wait_for(self, cache, key: str, lock_key: str, generation: str):
        """The lock holder's result; MISSING once its lock is gone or the wait is over."""
        deadline = time.monotonic() + WAIT_SECONDS
        while time.monotonic() < deadline:
            time.sleep(POLL_SECONDS)
            found = _safely(lambda: cache.get_many([key, lock_key]))
            if (value := versioned_cache.current(found.get(key), generation)) is not MISSING:
                return value
            if lock_key not in found:  # the holder finished, or died and its lock expired
                break
        return MISSING

    def store(self, cache, key: str, generation: str, marker, value) -> None:
        """Store the value unless the entry or the function was invalidated meanwhile."""
        try:
            size = len(pickle.dumps(value, pickle.HIGHEST_PROTOCOL))
        except Exception as error:
            self.not_stored(f"a value that cannot be stored ({error})")
            return
        if size > settings.CACHE_MAX_VALUE_BYTES:
            self.not_stored(
                f"{size:,} bytes, over CACHE_MAX_VALUE_BYTES ({settings.CACHE_MAX_VALUE_BYTES:,})"
            )
            return
        _safely(
            lambda: _store_if_current(
                cache, self.generation_key, generation, f"{key}:v", marker, key, value, self.timeout
            )
        )

    def not_stored(self, why: str) -> None:
        if not self.unstored_logged:
            logger.warning(
                "cache_result: %s returned %s; it is returned, not cached", self.name, why
            )
            self.unstored_logged = True

    # --- Invalidation ---------------------------------------------------------------------

    def invalidate(self, key: str) -> None:
        cache = caches[self.cache_alias]
        marker_timeout = max(self.timeout or 0, MARKER_SECONDS)
        # The marker first: a computation in flight now stores nothing.
        cache.set(f"{key}:v", uuid.uuid4().hex, marker_timeout)
        cache.delete(key)

    def invalidate_all(self) -> None:
        cache = caches[self.cache_alias]
        cache.delete(self.generation_key)
        # The superseded entries are never served again; delete them rather than wait for
        # their expiry (which, with timeout=None, never comes).
        if hasattr(cache, "delete_pattern"):
            cache.delete_pattern(f"cache_result:{self.name}:*")

    def refresh(self, args: tuple, kwargs: dict):
        """Compute now and store the result (unless invalidated meanwhile); return it."""
        key = self.key(args, kwargs)
        cache = caches[self.cache_alias]
        found = cache.get_many([self.generation_key, f"{key}:v"])
        generation = found.get(self.generation_key) or versioned_cache.mint(
            cache, self.generation_key
        )
        value = self.func(*args, **kwargs)
        self.store(cache, key, generation, found.get(f"{key}:v"), value)
        return value

    # --- The cache's health and the counts ------------------------------------------------

    def cache(self):
        """The cache's raising interface, or None while this process has its server marked
        down (the breaker the cache's connections and the broker's share: core.redis_health)."""
        if redis_health.breaker_of_cache(self.cache_alias).is_open():
            return None
        backend = caches[self.cache_alias]
        # django-redis swallows errors (IGNORE_EXCEPTIONS): its client raises them.
        return getattr(backend, "client", backend)

    def down(self, error) -> None:
        redis_health.breaker_of_cache(self.cache_alias).trip(error)

    def counted(self, outcome: str, value):
        self.counts[outcome] += 1
        metrics.CACHE_LOOKUPS.labels(self.name, _RESULTS[outcome]).inc()
        self.calls += 1
        if (
            self.calls >= STATS_FLUSH_CALLS
            or time.monotonic() - self.flushed_at > STATS_FLUSH_SECONDS
        ):
            self.flush_counts()
        return value

    def flush_counts(self) -> None:
        if redis_health.breaker_of_cache(self.cache_alias).is_open():
            return  # kept for a later flush
        pending, self.counts = self.counts, {"hits": 0, "misses": 0}
        self.calls, self.flushed_at = 0, time.monotonic()
        cache = caches[self.cache_alias]
        for outcome, n in pending.items():
            if n:
                key = f"{STATS_PREFIX}{self.name}:{outcome}"
                cache.add(key, 0, None)
                with contextlib.suppress(ValueError):  # cache down: the counts are lost
                    cache.incr(key, n)

    def stats(self) -> dict:
        """Hits and misses of this function, in every process (flushed) and this one."""
        self.flush_counts()
        return stats_of(self.name, caches[self.cache_alias])


def stats_of(name: str, cache) -> dict:
    keys = {outcome: f"{STATS_PREFIX}{name}:{outcome}" for outcome in ("hits", "misses")}
    found = cache.get_many(list(keys.values()))
    return {outcome: int(found.get(key) or 0) for outcome, key in keys.items()}


class _CacheFailed(Exception):
    """A cache operation failed on the slow path (raised from the cache's error)."""


def _safely(operation):
    try:
        return operation()
    except Exception as error:
        raise _CacheFailed() from error


def _store_if_current(cache, generation_key, generation, marker_key, marker, key, value, timeout):
    entry = (generation, value)
    if hasattr(cache, "get_client"):  # django-redis: atomic, in Redis
        client = cache.get_client(write=True)
        keys = [str(cache.make_key(k)) for k in (generation_key, marker_key, key)]
        expected_marker = b"" if marker is None else cache.encode(marker)
        milliseconds = "" if timeout is None else str(int(timeout * 1000))
        arguments = [cache.encode(generation), expected_marker, cache.encode(entry), milliseconds]
        client.eval(_STORE_IF_CURRENT, 3, *keys, *arguments)
        return
    found = cache.get_many([generation_key, marker_key])
    if found.get(generation_key) == generation and found.get(marker_key) == marker:
        cache.set(key, entry, timeout)


def _binder(func: Callable) -> Callable:
    """A function giving a call's arguments in signature order, defaults applied."""
    signature = inspect.signature(func)
    plain = all(
        p.kind in (p.POSITIONAL_ONLY, p.POSITIONAL_OR_KEYWORD)
        for p in signature.parameters.values()
    )
    size = len(signature.parameters)

    def arguments(*args, **kwargs) -> tuple:
        if plain and not kwargs and len(args) == size:  # the common call, bound already
            return args
        bound = signature.bind(*args, **kwargs)
        bound.apply_defaults()
        return tuple(bound.arguments.values())

    return arguments
