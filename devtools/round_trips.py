"""Count a piece of code's round trips to PostgreSQL and Redis (tests and bench/sends.py).

    with round_trips.counted() as trips:
        client.post("/api/v1/messages/", ...)
    trips.sql      # every statement: Django's, its BEGIN/COMMIT/SAVEPOINT, its health check
    trips.redis    # every request written to a Redis connection (a pipeline is one)

Spies, not mocks: each call goes through to the real server. Django's own query log misses
the health check (CONN_HEALTH_CHECKS: a `SELECT 1` at the start of a request that reuses
its connection), so that is counted where Django makes it.
"""

import contextlib
from dataclasses import dataclass, field

import redis.connection
from django.db import connections
from django.db.backends.base.base import BaseDatabaseWrapper
from django.test.utils import CaptureQueriesContext


@dataclass
class Trips:
    sql: list[str] = field(default_factory=list)
    redis: list[str] = field(default_factory=list)

    def __str__(self) -> str:
        return "\n".join(["SQL:", *self.sql, "Redis:", *self.redis])


@contextlib.contextmanager
def counted(using: str = "default"):
    trips = Trips()
    sent = redis.connection.AbstractConnection.send_packed_command
    usable = BaseDatabaseWrapper.close_if_health_check_failed

    def send_packed_command(self, command, check_health=True):
        parts = command if isinstance(command, list) else [command]
        trips.redis.append(b"".join(parts).decode(errors="replace").replace("\r\n", " ")[:200])
        return sent(self, command, check_health)

    def close_if_health_check_failed(self):
        # What Django does: a check only when one is due, and only on a connection in use.
        if (
            self.connection is not None
            and self.health_check_enabled
            and (not self.health_check_done)
        ):
            trips.sql.append("SELECT 1 (the health check)")
        return usable(self)

    redis.connection.AbstractConnection.send_packed_command = send_packed_command
    BaseDatabaseWrapper.close_if_health_check_failed = close_if_health_check_failed
    try:
        with CaptureQueriesContext(connections[using]) as queries:
            yield trips
    finally:
        redis.connection.AbstractConnection.send_packed_command = sent
        BaseDatabaseWrapper.close_if_health_check_failed = usable
        trips.sql.extend(" ".join(q["sql"].split())[:200] for q in queries.captured_queries)
