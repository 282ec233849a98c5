"""Redis URLs, plain or through Sentinel, and clients for them.

A plain URL is redis-py's: `redis://[:password@]host:port/db`. A Sentinel URL is kombu's:
the Sentinels separated by `;`, the database on the last one, the master's name in
REDIS_SENTINEL_MASTER:

    sentinel://10.0.0.1:26379;sentinel://10.0.0.2:26379;sentinel://10.0.0.3:26379/0

Celery reads it as is (with `master_name` in its transport options); the cache
(django-redis's SentinelConnectionFactory) and the live events (`client`, `async_client`)
ask the Sentinels where the master is and follow it when it moves.
"""

from urllib.parse import unquote, urlsplit

import redis
import redis.asyncio as aioredis
import redis.asyncio.sentinel
import redis.sentinel

SCHEME = "sentinel"


def sentinels(url: str) -> list[tuple[str, int]]:
    """The (host, port) of each Sentinel of a Sentinel URL; [] for a plain URL."""
    parts = [urlsplit(part) for part in url.split(";") if part.strip()]
    if not parts or parts[0].scheme != SCHEME:
        return []
    return [(part.hostname or "127.0.0.1", part.port or 26379) for part in parts]


def database(url: str) -> int:
    """The database number of a plain or Sentinel URL (the last part's path)."""
    path = urlsplit(url.split(";")[-1]).path.strip("/")
    return int(path or 0)


def password(url: str) -> str | None:
    value = urlsplit(url.split(";")[0]).password
    return unquote(value) if value else None


def master_name() -> str:
    from django.conf import settings

    return settings.REDIS_SENTINEL_MASTER


def _sentinel_kwargs(options: dict) -> dict:
    # The Sentinels themselves are asked with the same bounded timeouts as the master.
    return {
        key: options[key] for key in ("socket_timeout", "socket_connect_timeout") if key in options
    }


def client(url: str, **options) -> redis.Redis:
    """A client of the Redis at `url`; through Sentinel, of the current master."""
    if not sentinels(url):
        return redis.Redis.from_url(url, **options)
    manager = redis.sentinel.Sentinel(sentinels(url), sentinel_kwargs=_sentinel_kwargs(options))
    return manager.master_for(master_name(), db=database(url), password=password(url), **options)


def async_client(url: str, **options) -> aioredis.Redis:
    """The asyncio twin of `client`."""
    if not sentinels(url):
        return aioredis.Redis.from_url(url, **options)
    manager = redis.asyncio.sentinel.Sentinel(
        sentinels(url), sentinel_kwargs=_sentinel_kwargs(options)
    )
    return manager.master_for(master_name(), db=database(url), password=password(url), **options)


def cache_location(url: str, master: str) -> tuple[str, dict]:
    """django-redis's LOCATION and the OPTIONS it needs for `url` (plain: as is)."""
    if not sentinels(url):
        return url, {}
    location = f"redis://{master}/{database(url)}"
    if secret := password(url):
        location = f"redis://:{secret}@{master}/{database(url)}"
    return location, {
        "CONNECTION_FACTORY": "django_redis.pool.SentinelConnectionFactory",
        "SENTINELS": sentinels(url),
    }


def with_database(url: str, number: int) -> str:
    """The same server (or Sentinel group) as `url`, database `number`."""
    head, _, last = url.rpartition(";")
    parts = urlsplit(last)
    return (head + ";" if head else "") + parts._replace(path=f"/{number}").geturl()


def next_database(url: str) -> str:
    """Where the cache lives when REDIS_CACHE_URL is not set: the broker's server, the
    database after the broker's (a database of its own: the cache's clear() is FLUSHDB)."""
    return with_database(url, (database(url) + 1) % 16)


def transport_options(url: str, *, master: str, options: dict) -> dict:
    """Celery's broker or result transport options for `url`: through Sentinel, the master's
    name and the Sentinels asked with the same bounded timeouts."""
    if not sentinels(url):
        return options
    return {
        **options,
        "master_name": master,
        "sentinel_kwargs": {
            "socket_timeout": options["socket_timeout"],
            "socket_connect_timeout": options["socket_connect_timeout"],
        },
    }
