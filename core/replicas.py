"""Reads from PostgreSQL streaming replicas, with read-your-writes.

`DATABASE_REPLICA_URLS` adds the aliases `replica_1`, `replica_2`, ... Only views decorated
with `@replica_reads` (the read-only pages and API lists) read from one; everything else,
every write, every read inside a transaction and every Celery task uses the primary.

Read-your-writes: whenever a user's view of the data changes (their inbox cache is
invalidated, an event is published to them, they mark something read), `pin` stores in
Redis the primary's WAL position after that write (`pg_current_wal_lsn()`), for at most
`DATABASE_REPLICA_PIN_SECONDS`. While a pin exists, that user's reads go to a replica only
if it has replayed past the position (`pg_last_wal_replay_lsn()`), else to the primary. So
nobody sends a message and then sees an inbox without it, and nobody is told by a live
event about a message their next read cannot find. If Redis cannot say whether a user is
pinned, the user reads from the primary.

A thread of each process checks each replica every `DATABASE_REPLICA_CHECK_SECONDS`, so no
request waits for a check: one that does not answer (within `DATABASE_REPLICA_CONNECT_TIMEOUT`;
while its check takes over `DATABASE_REPLICA_QUERY_TIMEOUT` it counts as down), is not in
recovery, or lags more than
`DATABASE_REPLICA_MAX_LAG_SECONDS` is skipped (logged once when it goes, once when it comes
back); until its first check a replica is not used. A replica that fails during a
request marks itself down and the view runs again on the primary: read-only views only.
"""

import contextlib
import contextvars
import logging
import os
import random
import socket
import threading
import time
from dataclasses import dataclass
from functools import wraps

from django.conf import settings
from django.core.cache import cache
from django.db import (
    DEFAULT_DB_ALIAS,
    DatabaseError,
    InterfaceError,
    OperationalError,
    connections,
    transaction,
)
from django_redis import get_redis_connection

logger = logging.getLogger(__name__)

# The replica the current request reads from; None: the primary.
_reading_from: contextvars.ContextVar[str | None] = contextvars.ContextVar(
    "replica_reads", default=None
)


def aliases() -> list[str]:
    return [alias for alias in settings.DATABASES if alias.startswith("replica_")]


class Router:
    """DATABASE_ROUTERS: the replica chosen by `replica_reads` for reads outside a
    transaction, the primary for everything else."""

    def db_for_read(self, model, **hints):
        alias = _reading_from.get()
        if alias is None or connections[DEFAULT_DB_ALIAS].in_atomic_block:
            return DEFAULT_DB_ALIAS
        return alias

    def db_for_write(self, model, **hints):
        return DEFAULT_DB_ALIAS

    def allow_relation(self, obj1, obj2, **hints):
        return True  # every alias holds the same data

    def allow_migrate(self, db, app_label, **hints):
        return db == DEFAULT_DB_ALIAS


# --- WAL positions --------------------------------------------------------------------------


def lsn_value(lsn: str) -> int:
    """A pg_lsn ("16/B374D848") as a number that orders like it."""
    high, _, low = lsn.partition("/")
    return (int(high, 16) << 32) + int(low, 16)


def _pin_key(user_id: int) -> str:
    return cache.make_key(f"replica-pin:{user_id}")


def pin(user_ids) -> None:
    """Send these users' reads to the primary until the replicas have replayed what the
    primary holds now (or for DATABASE_REPLICA_PIN_SECONDS). Call it after commit."""
    user_ids = {user_id for user_id in user_ids if user_id}
    # The request that wrote reads the rest of its answer from the primary: a page that
    # marks messages read shows its header's counts after that (issue 27).
    _reading_from.set(None)
    if not aliases() or not user_ids:
        return
    try:
        with connections[DEFAULT_DB_ALIAS].cursor() as cursor:
            cursor.execute("SELECT pg_current_wal_lsn()::text")
            (position,) = cursor.fetchone()
        pipe = get_redis_connection("default").pipeline(transaction=False)
        for user_id in user_ids:
            pipe.set(_pin_key(user_id), position, ex=settings.DATABASE_REPLICA_PIN_SECONDS)
        pipe.execute()
    except Exception:
        # Reads may then be up to a replica's lag behind this write for these users.
        logger.exception("could not pin users %s to the primary", sorted(user_ids))


def pin_on_commit(user_id: int) -> None:
    transaction.on_commit(lambda: pin([user_id]), robust=True)


def _pinned_at(user_id: int | None) -> int | None:
    """The WAL position a user's reads must see, 0 if none; None if Redis cannot say."""
    if not user_id:
        return 0
    try:
        position = get_redis_connection("default").get(_pin_key(user_id))
    except Exception as error:
        logger.warning("replica pins unavailable (%s): reading from the primary", error)
        return None
    return lsn_value(position.decode()) if position else 0


# --- Replica state --------------------------------------------------------------------------


@dataclass
class _State:
    checked_at: float = float("-inf")
    problem: str | None = "not checked"
    replayed: int = 0  # the WAL position replayed when checked
    checking_since: float | None = None  # a check under way in the checker thread


_states: dict[str, _State] = {}
_checkers: dict[str, threading.Thread] = {}
_checkers_lock = threading.Lock()

# The lag: none while everything received is replayed, else the age of the last transaction
# replayed. After a long idle spell a new write can make a healthy replica look behind for
# one check; its readers go to the primary meanwhile, which is safe.
_CHECK = """
SELECT pg_is_in_recovery(), pg_last_wal_replay_lsn()::text,
       CASE WHEN pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn() THEN 0
            ELSE extract(epoch FROM now() - pg_last_xact_replay_timestamp()) END
"""


def _check(alias: str) -> tuple[str | None, int]:
    """(what is wrong or None, replayed position) of a replica, asked now."""
    try:
        with connections[alias].cursor() as cursor:
            cursor.execute(_CHECK)
            in_recovery, replayed, lag = cursor.fetchone()
    except DatabaseError as error:
        connections[alias].close_if_unusable_or_obsolete()
        return f"down: {str(error).strip().splitlines()[0]}", 0
    if not in_recovery:
        return "not a replica (not in recovery)", 0
    replayed = lsn_value(replayed) if replayed else 0
    if lag is not None and lag > settings.DATABASE_REPLICA_MAX_LAG_SECONDS:
        return f"lagging {float(lag):.1f} s", replayed
    return None, replayed


def state(alias: str, *, fresh: bool = False) -> _State:
    """What this process knows of the replica. Requests never wait for a check: a thread of
    the process checks each replica every DATABASE_REPLICA_CHECK_SECONDS, and a replica whose
    check takes longer than a request may wait on it (DATABASE_REPLICA_QUERY_TIMEOUT) counts
    as down meanwhile. `fresh` checks now, in this thread."""
    current = _states.setdefault(alias, _State())
    if fresh:
        _refresh(alias)
        return current
    if _start_checker(alias):  # the process's first look: wait for it, within a bound
        _checkers[alias].first_check.wait(settings.DATABASE_REPLICA_QUERY_TIMEOUT)
    started = current.checking_since
    bound = settings.DATABASE_REPLICA_QUERY_TIMEOUT
    if started is not None and time.monotonic() - started > bound:
        if current.problem is None:
            logger.warning("replica %s skipped: down: its check takes over %s s", alias, bound)
        current.problem = f"down: its check takes over {bound} s"
    return current


def _refresh(alias: str) -> None:
    current = _states.setdefault(alias, _State())
    current.checking_since = time.monotonic()
    try:
        problem, replayed = _check(alias)
    finally:
        current.checking_since = None
    if problem != current.problem:
        if problem:
            logger.warning("replica %s skipped: %s", alias, problem)
        else:
            logger.info("replica %s in use", alias)
    # Recorded after the check: a check that took its whole timeout is not due again at once.
    current.problem, current.replayed, current.checked_at = problem, replayed, time.monotonic()


def _start_checker(alias: str) -> bool:
    """Start the process's checker of `alias` unless it runs; True if started now."""
    if alias in _checkers:
        return False
    with _checkers_lock:
        if alias in _checkers:
            return False
        thread = threading.Thread(
            target=_check_forever, args=(alias,), name=f"replica-check-{alias}", daemon=True
        )
        thread.first_check = threading.Event()
        _checkers[alias] = thread
        thread.start()
        return True


def _check_forever(alias: str) -> None:
    """The process's checker of one replica (its own connection, held between checks)."""
    first_check = threading.current_thread().first_check
    while True:
        try:
            _refresh(alias)
        except Exception:  # never let the checker die: requests rely on it
            logger.exception("replica %s: the check failed", alias)
        first_check.set()
        time.sleep(settings.DATABASE_REPLICA_CHECK_SECONDS)


def mark_down(alias: str, error: Exception) -> None:
    current = _states.setdefault(alias, _State())
    current.problem, current.checked_at = f"down: {error}", time.monotonic()
    logger.warning("replica %s skipped: down: it failed during a request (%s)", alias, error)
    connections[alias].close_if_unusable_or_obsolete()


def _has_replayed(alias: str, position: int) -> bool:
    # As last checked: a pinned user reads from the primary until a check sees the replay.
    return state(alias).replayed >= position


def choose(user_id: int | None) -> str | None:
    """The replica this user may read from now, or None for the primary."""
    usable = [alias for alias in aliases() if state(alias).problem is None]
    if not usable:
        return None
    position = _pinned_at(user_id)
    if position is None:
        return None
    random.shuffle(usable)
    return next((alias for alias in usable if _has_replayed(alias, position)), None)


def replica_reads(view):
    """Let a read-only view (a function view or a DRF handler) read from a replica.

    The user is loaded (from the primary) before the replica is chosen; if the replica
    fails during the view, the view runs again on the primary.
    """

    @wraps(view)
    def wrapper(*args, **kwargs):
        request = next(arg for arg in args if hasattr(arg, "method"))  # after a DRF view's self
        if request.method not in ("GET", "HEAD") or not aliases():
            return view(*args, **kwargs)
        alias = choose(request.user.pk)
        if alias is None:
            return view(*args, **kwargs)
        token = _reading_from.set(alias)
        try:
            return view(*args, **kwargs)
        except (OperationalError, InterfaceError) as error:  # the replica went away
            mark_down(alias, error)
        finally:
            _reading_from.reset(token)
        return view(*args, **kwargs)

    return wrapper


def health() -> dict[str, str]:
    """Each replica's state for /healthz (reported, never failing it)."""
    return {alias: state(alias).problem or "ok" for alias in aliases()}


# --- A replica that hangs mid-query ----------------------------------------------------------


def watch_queries(sender, connection, **kwargs) -> None:
    """connection_created: bound every query on a replica's connection. A replica that hangs
    on an open connection (stopped, or its network gone) answers nothing, not even to a
    statement timeout; after DATABASE_REPLICA_QUERY_TIMEOUT its socket is shut from here, the
    query fails, and `replica_reads` runs the view again on the primary."""
    if connection.alias.startswith("replica_") and _abandon_slow not in connection.execute_wrappers:
        connection.execute_wrappers.append(_abandon_slow)


def _abandon_slow(execute, sql, params, many, context):
    connection = context["connection"]
    timer = threading.Timer(settings.DATABASE_REPLICA_QUERY_TIMEOUT, _abandon, [connection])
    timer.daemon = True
    timer.start()
    try:
        return execute(sql, params, many, context)
    finally:
        timer.cancel()


def _abandon(connection) -> None:
    raw = getattr(connection, "connection", None)
    try:
        fileno = raw.pgconn.socket
    except Exception:  # closed meanwhile: nothing is waiting on it
        return
    logger.warning("replica %s: a query hangs; its connection is abandoned", connection.alias)
    with socket.socket(fileno=os.dup(fileno)) as hung, contextlib.suppress(OSError):
        hung.shutdown(socket.SHUT_RDWR)
