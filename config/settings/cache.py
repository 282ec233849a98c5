"""Redis: the broker's server and the cache's (django-redis), plain or through Sentinel."""

from config.settings.env import env, positive, redis_url
from core import redis_health, redis_urls

# Plain URLs (redis://host:port/db) or, for Redis Sentinel, kombu's form with the master's
# name apart: sentinel://host1:26379;sentinel://host2:26379;sentinel://host3:26379/0
# (core/redis_urls.py). The master is followed through failovers.
REDIS_URL = env.str("REDIS_URL", "redis://127.0.0.1:6379/0", validate=redis_url)
# The cache follows the broker's server unless told otherwise, in a database of its own
# (the database after the broker's): cache.clear() is FLUSHDB and must never wipe the queues.
REDIS_CACHE_URL = env.str(
    "REDIS_CACHE_URL", redis_urls.next_database(REDIS_URL), validate=redis_url
)
REDIS_SENTINEL_MASTER = env.str("REDIS_SENTINEL_MASTER", "mymaster")

# Errors become misses (logged), never a 500; short socket timeouts keep a dead Redis from
# stalling every request. KEY_PREFIX separates platforms that share a Redis: every key of
# ours, job locks included, is under it.
CACHES = {
    "default": redis_health.cache_settings(
        REDIS_CACHE_URL,
        master=REDIS_SENTINEL_MASTER,
        timeout=env.float("CACHE_SOCKET_TIMEOUT", 0.25, validate=positive),
        key_prefix=env.str("CACHE_KEY_PREFIX", "tqm"),
    )
}
# A value larger than this is returned, not stored, by cache_result (core/cache.py): a slow
# write of a huge value must not pass for a dead Redis.
CACHE_MAX_VALUE_BYTES = env.int("CACHE_MAX_VALUE_BYTES", 1024 * 1024, validate=positive)
DJANGO_REDIS_LOG_IGNORED_EXCEPTIONS = True
DJANGO_REDIS_LOGGER = "platform.cache"
