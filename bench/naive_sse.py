"""The naive live-events pattern of public examples, for comparison only (never shipped):
a WSGI view per open page that holds a thread and a Redis pub/sub connection of its own and
reads it with a 1-second timeout in a loop. Served by gunicorn's threaded workers in
bench/live.py: `gunicorn bench.naive_sse:application --worker-class gthread ...`."""

import os
from urllib.parse import parse_qs

import redis

# A connection per open page: as many as pages (redis-py bounds a pool at 100 otherwise).
POOL = redis.ConnectionPool.from_url(os.environ["REDIS_URL"], max_connections=10_000)


def application(environ, start_response):
    user = parse_qs(environ["QUERY_STRING"]).get("user", ["0"])[0]
    start_response("200 OK", [("Content-Type", "text/event-stream"), ("Cache-Control", "no-store")])
    return _events(user)


def _events(user: str):
    pubsub = redis.Redis(connection_pool=POOL).pubsub(ignore_subscribe_messages=True)
    pubsub.subscribe(f"naive:{user}")
    try:
        yield b": open\n\n"
        while True:
            message = pubsub.get_message(timeout=1.0)
            if message is not None:
                yield b"data: " + message["data"] + b"\n\n"
    finally:
        pubsub.close()
