"""Plain and Sentinel Redis URLs: what the broker, the cache and the live events are given."""

import json

from core import redis_urls
from tests.servers import run_django_code

SENTINEL_URL = "sentinel://10.0.0.1:26379;sentinel://10.0.0.2:26380;sentinel://10.0.0.3/4"


def test_a_sentinel_url_names_every_sentinel_and_the_database():
    assert redis_urls.sentinels(SENTINEL_URL) == [
        ("10.0.0.1", 26379),
        ("10.0.0.2", 26380),
        ("10.0.0.3", 26379),
    ]
    assert redis_urls.database(SENTINEL_URL) == 4


def test_a_plain_url_is_not_a_sentinel_url():
    assert redis_urls.sentinels("redis://127.0.0.1:6379/3") == []
    assert redis_urls.database("redis://127.0.0.1:6379/3") == 3
    assert redis_urls.database("redis://127.0.0.1:6379") == 0


def test_the_cache_of_a_sentinel_url_asks_the_sentinels_for_the_named_master():
    location, options = redis_urls.cache_location(SENTINEL_URL, "orders")
    assert location == "redis://orders/4"
    assert options["CONNECTION_FACTORY"] == "django_redis.pool.SentinelConnectionFactory"
    assert options["SENTINELS"] == redis_urls.sentinels(SENTINEL_URL)
    assert redis_urls.cache_location("redis://h:1/2", "orders") == ("redis://h:1/2", {})


def test_settings_under_sentinel_urls_give_celery_the_master_name():
    code = """
import django, json; django.setup()
from django.conf import settings
from celery_app import app
print(json.dumps({
    "broker": app.conf.broker_transport_options["master_name"],
    "results": app.conf.result_backend_transport_options["master_name"],
    "cache": settings.CACHES["default"]["LOCATION"],
    "connection": settings.CACHES["default"]["OPTIONS"]["CONNECTION_POOL_KWARGS"][
        "connection_class"].__name__,
}))
"""
    env = {"REDIS_URL": SENTINEL_URL, "REDIS_CACHE_URL": SENTINEL_URL.replace("/4", "/5")}
    output = run_django_code(code, REDIS_SENTINEL_MASTER="orders", **env).stdout
    assert json.loads(output.splitlines()[-1]) == {
        "broker": "orders",
        "results": "orders",
        "cache": "redis://orders/5",
        "connection": "GuardedSentinelConnection",
    }
