"""A short "Redis is unhealthy" state per process, so that a hung Redis costs one timeout.

A Redis stopped with SIGSTOP (or a network that drops packets) accepts connections and
never answers: every command waits out its socket timeout. Without a memory of that, every
cache read and every publish of every request waits again, and two sync workers are soon
all waiting. After a timeout or a connection error, this process skips that Redis for
UNHEALTHY_SECONDS: cache commands fail at once (django-redis then treats them as misses),
publishes are skipped (the reconcile jobs catch up), and /healthz says "down" at once.
"""

import logging
import time
from urllib.parse import urlsplit

import redis
from redis.sentinel import SentinelManagedConnection

from core import redis_urls

logger = logging.getLogger(__name__)

UNHEALTHY_SECONDS = 5.0
# A command this large that times out is slow, not a sign of a hung server (see _failed).
LARGE_COMMAND_BYTES = 1024 * 1024
_FAILURES = (redis.TimeoutError, redis.ConnectionError, OSError)


class Breaker:
    def __init__(self, name: str):
        self.name = name
        self.until = 0.0

    def is_open(self) -> bool:
        return time.monotonic() < self.until

    def trip(self, error) -> None:
        opens = not self.is_open()
        if opens:
            logger.warning(
                "Redis at %s failed: %s; skipped by this process for %s s",
                self.name,
                error,
                UNHEALTHY_SECONDS,
            )
        self.until = time.monotonic() + UNHEALTHY_SECONDS
        _measure_trip(self.name, opens)

    def check(self) -> None:
        if self.is_open():
            raise redis.ConnectionError(f"Redis at {self.name} marked unhealthy; not tried")


def _measure_trip(name: str, opens: bool) -> None:
    # Imported here: this module is imported with the Celery app, before the settings choose
    # where metrics are kept (core/metrics_server.py).
    from core import metrics

    if opens:
        metrics.BREAKER_TRIPS.labels(name).inc()
    metrics.BREAKER_OPEN_UNTIL.labels(name).set(time.time() + UNHEALTHY_SECONDS)


_breakers: dict[str, Breaker] = {}


def _named(name: str) -> Breaker:
    if name not in _breakers:
        _breakers[name] = Breaker(name)
    return _breakers[name]


def breaker(host: str, port: int) -> Breaker:
    """The breaker of the Redis server at host:port (each server fails on its own)."""
    return _named(f"{host or '127.0.0.1'}:{int(port or 6379)}")


def sentinel_breaker(master_name: str) -> Breaker:
    """The breaker of the master Sentinel names `master_name`, wherever it is now."""
    return _named(f"sentinel master {master_name}")


def breaker_of_cache(alias: str) -> Breaker:
    """The breaker of the Redis server behind cache `alias` (django-redis); a cache of
    another kind gets one of its own."""
    from django.conf import settings

    entry = settings.CACHES[alias]
    location = entry.get("LOCATION")
    if "django_redis" not in entry["BACKEND"] or not isinstance(location, str):
        return _named(f"cache {alias}")
    parsed = urlsplit(location)
    if entry.get("OPTIONS", {}).get("SENTINELS"):
        return sentinel_breaker(parsed.hostname)
    return breaker(parsed.hostname, parsed.port)


def breaker_of_url(url: str) -> Breaker:
    if redis_urls.sentinels(url):
        return sentinel_breaker(redis_urls.master_name())
    parsed = urlsplit(url)
    return breaker(parsed.hostname, parsed.port)


class _Guarded:
    """Trips its server's breaker on a failure and fails at once while it is open (redis-py's
    own retries included)."""

    def connect(self, *args, **kwargs):
        self.breaker.check()
        try:
            return super().connect(*args, **kwargs)
        except _FAILURES as error:
            self.breaker.trip(error)
            raise

    def send_packed_command(self, command, *args, **kwargs):
        if self.breaker.is_open():
            self.disconnect()
            self.breaker.check()
        # A large command may time out on a server that is only busy with it: remembered
        # until its reply is read.
        parts = [command] if isinstance(command, (bytes, str, memoryview)) else command
        self.large_command = sum(len(part) for part in parts) > LARGE_COMMAND_BYTES
        try:
            return super().send_packed_command(command, *args, **kwargs)
        except _FAILURES as error:
            self._failed(error)
            raise

    def read_response(self, *args, **kwargs):
        try:
            return super().read_response(*args, **kwargs)
        except _FAILURES as error:
            self._failed(error)
            raise

    def _failed(self, error) -> None:
        """A refusal, a reset or a timeout on an ordinary command marks the server down; a
        timeout while writing or awaiting a large command is that command's own slowness
        (a huge value), not a dead server: the connection is dropped, the breaker stays."""
        if isinstance(error, redis.TimeoutError) and getattr(self, "large_command", False):
            logger.warning(
                "Redis at %s timed out on a command over %s bytes: not marked down",
                self.breaker.name,
                LARGE_COMMAND_BYTES,
            )
            return
        self.breaker.trip(error)


class GuardedConnection(_Guarded, redis.Connection):
    """The cache's connections (django-redis CONNECTION_POOL_KWARGS) and, in web processes,
    the broker's (guard_web_publishing)."""

    @property
    def breaker(self) -> Breaker:
        return breaker(self.host, self.port)


class GuardedSentinelConnection(_Guarded, SentinelManagedConnection):
    """The same for a master found through Sentinel: one breaker for the master, so that a
    failover (a new host) does not hide behind a fresh breaker."""

    @property
    def breaker(self) -> Breaker:
        return sentinel_breaker(self.connection_pool.service_name)


def guard_web_publishing(app, timeout: float) -> None:
    """In a web process (config/wsgi.py, config/asgi.py): publish with a `timeout` socket
    timeout and behind the broker's breaker, so a request pays at most one short timeout.
    Workers keep the broker settings (a consumer's reconnection is Celery's business)."""
    from kombu.transport import redis as kombu_redis

    app.conf.broker_transport_options = {
        **app.conf.broker_transport_options,
        "socket_timeout": timeout,
    }
    kombu_redis.Channel.connection_class = GuardedConnection
    kombu_redis.SentinelChannel.connection_class = GuardedSentinelConnection


def cache_settings(url: str, *, master: str, timeout: float, key_prefix: str) -> dict:
    """django-redis's CACHES entry for `url`: errors become misses (IGNORE_EXCEPTIONS, never a
    500), short socket timeouts, and connections behind the server's breaker
    (core/redis_health.py), so that a hung cache costs one timeout, then is skipped."""
    location, sentinel_options = redis_urls.cache_location(url, master)
    guarded = GuardedSentinelConnection if sentinel_options else None
    entry = {
        "BACKEND": "django_redis.cache.RedisCache",
        "LOCATION": location,
        "KEY_PREFIX": key_prefix,
        "OPTIONS": {
            "CLIENT_CLASS": "django_redis.client.DefaultClient",
            "PARSER_CLASS": "redis._parsers._HiredisParser",
            "SOCKET_CONNECT_TIMEOUT": timeout,
            "SOCKET_TIMEOUT": timeout,
            "IGNORE_EXCEPTIONS": True,
            "CONNECTION_POOL_KWARGS": {"connection_class": guarded or GuardedConnection},
            **sentinel_options,
        },
    }
    if sentinel_options:
        entry["OPTIONS"]["SENTINEL_KWARGS"] = {
            "socket_timeout": timeout,
            "socket_connect_timeout": timeout,
        }
    return entry
