"""The transactional outbox: every effect of a write is a row committed with the write, and
a relay publishes it (a task to the broker, events to the users' logs).

A write records its effects in its own transaction:

    with transaction.atomic():
        message = ...insert...
        outbox.record("messaging.message_sent", {"message_id": message.pk})

and the app that owns the topic says, once, what the relay does with its rows:

    @outbox.topic("messaging.message_sent")
    def message_sent(rows: list[outbox.Row]) -> None:
        ...publish; raise to keep the rows for the next attempt...

A rolled-back transaction leaves no row, so it publishes nothing. At the commit PostgreSQL
notifies the relay (a trigger on the table, LISTEN/NOTIFY): no polling delay. The relay
takes rows with `SELECT ... FOR UPDATE SKIP LOCKED`, so several relays share the work and
each row is published by one; it deletes them in the same transaction once they are
published. A relay killed between its publish and its commit publishes those rows again:
tasks are idempotent, and events carry a key of delivery (core.events) that the log appends
once. While the broker is down the rows wait, the relay retries with a short backoff, and
the first retry that gets through drains them all.

Why not django-celery-outbox (0.4.1, read for this): it polls (a sleep of `idle_time`, 1 s
by default) instead of listening, publishes one broker message per row where our tasks take
a batch of ids, and carries Celery tasks only, where our live events go straight to Redis.
"""

import logging
import signal
import time
from collections import defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

import psycopg
from django.conf import settings
from django.db import DEFAULT_DB_ALIAS, OperationalError, connections, transaction
from django.utils import timezone

from core import metrics, redis_health, telemetry
from core.models import OutboxRow

logger = logging.getLogger(__name__)

CHANNEL = "core_outbox"  # the trigger of migration core 0003 notifies it
# A drain this soon after the previous one means the relay is busy (see Relay.run).
BUSY_SECONDS = 0.05


@dataclass(frozen=True, slots=True)
class Row:
    id: int
    payload: dict
    trace: str = ""  # the traceparent of the write that recorded it (core.telemetry)

    def key(self, part: int | str = 0) -> str:
        """A key of delivery for what this row publishes (core.events.publish)."""
        return f"outbox:{self.id}:{part}"


@dataclass
class Topic:
    name: str
    handle: Callable[[list[Row]], None]
    #: Under load, publish this topic at most once per `linger` seconds (rows gather into
    #: one batch meanwhile); a lone row is published at once.
    linger: float = 0.0
    batch: int = 500
    #: For a topic of task calls: the (args, kwargs) of the calls a batch of payloads makes.
    task_calls: Callable[[list[dict]], Iterable[tuple[tuple, dict]]] | None = None
    last_published: float = field(default=-1e9, repr=False)

    def waits(self, now: float, rows: int) -> float | None:
        """When this topic may publish again if it must wait now, else None."""
        due = self.last_published + self.linger
        return due if rows < self.batch and now < due else None


_topics: dict[str, Topic] = {}


def topics() -> dict[str, Topic]:
    return dict(_topics)


def topic(name: str, *, linger: float = 0.0, batch: int = 500):
    """Declare what the relay does with the rows of topic `name` (a function of their list,
    which raises to keep them)."""

    def register(handle: Callable[[list[Row]], None]):
        _topics[name] = Topic(name, handle, linger=linger, batch=batch)
        return handle

    return register


def task_topic(
    name: str,
    *,
    calls: Callable[[list[dict]], Iterable[tuple[tuple, dict]]] | None = None,
    linger: float = 0.0,
    batch: int = 500,
) -> None:
    """Rows of topic `name` are calls of the task of that name: by default one per row (its
    payload the keyword arguments); `calls` may fold a batch of payloads into fewer calls."""

    def task_calls(payloads: list[dict]) -> Iterable[tuple[tuple, dict]]:
        return calls(payloads) if calls else (((), payload) for payload in payloads)

    def publish(rows: list[Row]) -> None:
        from celery import current_app

        for args, kwargs in task_calls([row.payload for row in rows]):
            # ignore_result: send_task cannot see the task's own setting, and without it
            # the Redis result backend subscribes to every task's result channel.
            current_app.send_task(name, args, kwargs, retry=False, ignore_result=True)

    topic(name, linger=linger, batch=batch)(publish)
    _topics[name].task_calls = task_calls


def record(name: str, payload: dict, *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Record one effect of the current transaction (committed with it, or never)."""
    record_many([(name, payload)], using=using)


def record_many(effects: Iterable[tuple[str, dict]], *, using: str = DEFAULT_DB_ALIAS) -> None:
    """Record several effects in one statement."""
    trace = telemetry.current()
    rows = [OutboxRow(topic=name, payload=payload, trace=trace) for name, payload in effects]
    if rows:
        OutboxRow.objects.using(using).bulk_create(rows)


def record_sql(names: Iterable[str], payload: str, source: str) -> tuple[str, list]:
    """An INSERT recording one row of each topic in `names` per row of `source`, its payload
    the SQL expression `payload` over that row: for a write done in one statement (a
    data-modifying WITH), whose ids Python never sees before the commit. (sql, params)."""
    sql = (
        f"INSERT INTO {OutboxRow._meta.db_table} (topic, payload, created_at, trace) "
        f"SELECT topic, {payload}, now(), %s FROM {source}, unnest(%s::varchar[]) AS topic"
    )
    return sql, [telemetry.current(), list(names)]


def backlog(using: str = DEFAULT_DB_ALIAS) -> tuple[int, float]:
    """(rows waiting, seconds since the oldest was written, 0 when none)."""
    with connections[using].cursor() as cursor:
        cursor.execute(f"SELECT count(*), min(created_at) FROM {OutboxRow._meta.db_table}")
        depth, oldest = cursor.fetchone()
    return depth, max(0.0, (timezone.now() - oldest).total_seconds()) if oldest else 0.0


def health() -> dict:
    """For /healthz: rows waiting, the age of the oldest, and "late" once it is older than
    OUTBOX_ALERT_AGE_SECONDS (the relay is down, or the broker has been for that long)."""
    depth, age = backlog()
    late = age > settings.OUTBOX_ALERT_AGE_SECONDS
    return {"status": "late" if late else "ok", "depth": depth, "oldest_seconds": round(age, 1)}


class BacklogCollector:
    """The relay's metrics, read at each scrape: rows waiting and the age of the oldest."""

    def collect(self):
        from prometheus_client.core import GaugeMetricFamily

        try:
            depth, age = backlog()
        except Exception as error:  # a scrape must answer: the backlog is then unknown
            logger.warning("outbox metrics unavailable: %s", error)
            return
        finally:
            connections[DEFAULT_DB_ALIAS].close()  # a scrape's thread keeps no connection
        yield GaugeMetricFamily(
            metrics.PREFIX + "outbox_rows_waiting", "Outbox rows not yet published.", depth
        )
        yield GaugeMetricFamily(
            metrics.PREFIX + "outbox_oldest_age_seconds",
            "Age of the oldest outbox row not yet published (0 when none).",
            age,
        )


@dataclass
class Drained:
    published: int = 0
    failed: bool = False
    full: bool = False  # a whole batch: more may be waiting
    due: float | None = None  # a lingering topic may publish then


def drain(*, limit: int = 1000, now: float | None = None) -> Drained:
    """Publish what is waiting, in one transaction: take up to `limit` rows nobody else
    holds, hand each topic its rows, delete those published. Handler errors are logged and
    their rows kept."""
    now = time.monotonic() if now is None else now
    result = Drained()
    with transaction.atomic():
        rows = list(
            OutboxRow.objects.select_for_update(skip_locked=True)
            .filter(topic__in=list(_topics))
            .order_by("id")
            .values_list("id", "topic", "payload", "trace")[:limit]
        )
        result.full = len(rows) == limit
        by_topic: dict[str, list[Row]] = defaultdict(list)
        for row_id, name, payload, trace in rows:
            by_topic[name].append(Row(row_id, payload, trace))
        done: list[int] = []
        for name, batch in by_topic.items():
            spec = _topics[name]
            if (due := spec.waits(now, len(batch))) is not None:
                result.due = due if result.due is None else min(result.due, due)
                continue
            for start in range(0, len(batch), spec.batch):
                part = batch[start : start + spec.batch]
                try:
                    with (
                        telemetry.span(
                            "outbox.publish",
                            [row.trace for row in part],
                            topic=name,
                            rows=len(part),
                        ),
                        transaction.atomic(),  # a failed query spares the other topics
                    ):
                        spec.handle(part)
                except Exception:
                    logger.exception("outbox: %d rows of %s not published", len(part), name)
                    metrics.OUTBOX_FAILURES.labels(name).inc()
                    result.failed = True
                    break
                metrics.OUTBOX_PUBLISHED.labels(name).inc(len(part))
                spec.last_published = now
                done.extend(row.id for row in part)
        if done:
            OutboxRow.objects.filter(id__in=done).delete()
        result.published = len(done)
    return result


class Relay:
    """Publish the outbox as it commits: wake on NOTIFY, drain, wait again (at most
    `poll` seconds, a safety net for a lost notification)."""

    def __init__(self, *, poll: float | None = None, retry_max: float | None = None):
        self.poll = settings.OUTBOX_POLL_SECONDS if poll is None else poll
        self.retry_max = settings.OUTBOX_RETRY_MAX_SECONDS if retry_max is None else retry_max
        self.stopping = False
        self._listener: psycopg.Connection | None = None

    def stop(self, *args) -> None:
        self.stopping = True

    def run(self) -> None:
        # The relay's backoff is its memory of a failed Redis: each retry must really try,
        # not meet a breaker that stays open for seconds after Redis is back.
        redis_health.UNHEALTHY_SECONDS = 0.0
        signal.signal(signal.SIGTERM, self.stop)
        signal.signal(signal.SIGINT, self.stop)
        logger.info("outbox relay started: topics %s", ", ".join(sorted(_topics)))
        backoff = 0.0
        last_drain = 0.0
        while not self.stopping:
            # Busy (the last drain was moments ago): let a few more commits arrive, so a
            # drain carries several sends and the relay's round trips are shared.
            if time.monotonic() - last_drain < BUSY_SECONDS:
                time.sleep(settings.OUTBOX_COALESCE_SECONDS)
            last_drain = time.monotonic()
            try:
                self._listen()
                result = drain()
            except (OperationalError, psycopg.OperationalError) as error:
                logger.warning("outbox relay: database unavailable: %s", error)
                self._reset()
                result = Drained(failed=True)
            if result.failed:
                backoff = min(self.retry_max, max(0.05, backoff * 2))
                self._wait(backoff)
                continue
            backoff = 0.0
            if result.full:
                continue
            timeout = self.poll
            if result.due is not None:
                timeout = max(0.0, min(timeout, result.due - time.monotonic()))
            self._wait(timeout)
        self._reset()
        logger.info("outbox relay stopped")

    def _listen(self) -> None:
        if self._listener is not None and not self._listener.closed:
            return
        db = connections[DEFAULT_DB_ALIAS]
        db.ensure_connection()
        params = db.get_connection_params()
        params.pop("cursor_factory", None)
        params.pop("context", None)
        self._listener = psycopg.connect(**params, autocommit=True)
        self._listener.execute(f"LISTEN {CHANNEL}")

    def _wait(self, timeout: float) -> None:
        """Until a notification comes (or `timeout`): then take every one already there."""
        if self._listener is None or self.stopping:
            time.sleep(min(timeout, 0.5))
            return
        try:
            for _ in self._listener.notifies(timeout=timeout, stop_after=1):
                pass
            for _ in self._listener.notifies(timeout=0):
                pass
        except psycopg.Error as error:
            logger.warning("outbox relay: lost its LISTEN connection: %s", error)
            self._reset()

    def _reset(self) -> None:
        if self._listener is not None:
            self._listener.close()
        self._listener = None
        connections[DEFAULT_DB_ALIAS].close()
