"""cache_result on the real Redis."""

import dataclasses
import datetime
import enum
import multiprocessing
import os
import pathlib
import signal
import threading
import time
import uuid
from decimal import Decimal

import pytest
import redis
from django.conf import settings
from django.core.management import call_command

from core import redis_health
from core.cache import LOCK_SECONDS, RENEW_SECONDS
from devtools.factories import UserFactory
from maintenance.utils import cache_result
from messaging.models import Message
from tests.servers import RedisServer, free_port, wait_for

calls: list = []


@cache_result(timeout=60)
def square(x):
    calls.append(x)
    return x * x


@cache_result(timeout=60)
def nothing(x):
    calls.append(x)
    return None


@cache_result(timeout=60)
def describe(options, user=None):
    calls.append(options)
    return {"options": options, "user": user.pk if user else None}


@pytest.fixture(autouse=True)
def _reset_calls():
    calls.clear()


def test_second_call_is_served_from_the_cache():
    assert square(3) == 9
    assert square(3) == 9
    assert calls == [3]


def test_none_is_cached_too():
    assert nothing(1) is None
    assert nothing(1) is None
    assert calls == [1]


def test_dict_arguments_are_keyed_canonically():
    describe({"a": 1, "b": [1, 2]})
    describe({"b": [1, 2], "a": 1})
    assert len(calls) == 1


@pytest.mark.django_db
def test_model_instances_are_keyed_by_model_and_primary_key():
    user = UserFactory()
    describe({}, user=user)
    describe({}, user=type(user).objects.get(pk=user.pk))
    describe({}, user=UserFactory())
    assert len(calls) == 2


def test_unkeyable_argument_is_a_clear_error():
    with pytest.raises(TypeError, match="cannot build a key from an argument of type object"):
        square(object())


def test_invalidate_drops_one_entry():
    square(2), square(3)
    square.invalidate(2)
    square(2), square(3)
    assert calls == [2, 3, 2]


def test_invalidate_all_drops_every_entry():
    square(2), square(3)
    square.invalidate_all()
    square(2), square(3)
    assert calls == [2, 3, 2, 3]


def test_cache_down_calls_the_function_and_never_raises(settings):
    dead = f"redis://127.0.0.1:{free_port()}/0"
    settings.CACHES = {
        **settings.CACHES,
        "dead": {**settings.CACHES["default"], "LOCATION": dead},
    }

    @cache_result(timeout=60, cache_alias="dead", key_prefix="tests.cube")
    def cube(x):
        calls.append(x)
        return x**3

    assert [cube(2), cube(2)] == [8, 8]
    assert calls == [2, 2]


COUNTER = "tests:cache_result:computations"


@cache_result(timeout=60)
def slow_report(x):
    # Counts computations in Redis, shared by every process, then takes a while.
    redis.Redis.from_url(settings.REDIS_CACHE_URL).incr(COUNTER)
    time.sleep(0.5)
    return {"x": x}


def _call_at_once(barrier, results):
    barrier.wait()
    results.put(slow_report(7))


def test_concurrent_misses_compute_once():
    client = redis.Redis.from_url(settings.REDIS_CACHE_URL)
    client.delete(COUNTER)
    ctx = multiprocessing.get_context("fork")
    processes, barrier, results = 6, ctx.Barrier(6), ctx.Queue()
    workers = [ctx.Process(target=_call_at_once, args=(barrier, results)) for _ in range(processes)]
    for worker in workers:
        worker.start()
    got = [results.get(timeout=30) for _ in workers]
    for worker in workers:
        worker.join(timeout=30)
    assert got == [{"x": 7}] * processes
    assert int(client.get(COUNTER)) == 1


# --- One call, one entry; values keyed with their types (issue 15, items 1 to 4) --------------

seen: list = []


@cache_result(timeout=60)
def pair(a, b=2):
    seen.append((a, b))
    return f"{a}-{b}-{len(seen)}"


@cache_result(timeout=60)
def echo(value):
    seen.append(value)
    return value


@pytest.fixture(autouse=True)
def _reset_seen():
    seen.clear()


def test_every_spelling_of_one_call_shares_one_entry_and_its_invalidation():
    first = pair(1, 2)
    assert pair(1, b=2) == pair(a=1, b=2) == pair(1) == first
    assert seen == [(1, 2)]
    pair.invalidate(1)
    assert pair(1, b=2) != first
    assert seen == [(1, 2), (1, 2)]


@pytest.mark.parametrize(
    "values",
    [
        ["1.5", Decimal("1.5"), 1.5],
        ["2026-01-01", datetime.date(2026, 1, 1)],
        ["2026-01-01T00:00:00", datetime.datetime(2026, 1, 1)],
        ["12345678-1234-5678-1234-567812345678", uuid.UUID(int=0x12345678123456781234567812345678)],
        [[1, 2], (1, 2), {1, 2}],
        [{"1": "a"}, {1: "a"}],
        [1, True, "1"],
    ],
)
def test_values_that_differ_in_type_have_entries_of_their_own(values):
    for value in values:
        result = echo(value)
        assert result == value
        assert type(result) is type(value)
    assert len(seen) == len(values)


class Colour(enum.Enum):
    RED = 1


@dataclasses.dataclass(frozen=True)
class Window:
    start: datetime.date
    days: int


@pytest.mark.parametrize(
    "value",
    [
        b"\x00\xff",
        datetime.timedelta(days=1, seconds=5),
        Colour.RED,
        pathlib.Path("/tmp/report.csv"),
        Message,
        Window(datetime.date(2026, 1, 1), 7),
        {1: "a", "1": "b", (2, 3): None},
    ],
)
def test_arguments_people_pass_are_keyed(value):
    assert echo(value) == value
    assert echo(value) == value
    assert len(seen) == 1


@pytest.mark.django_db
def test_unsaved_model_instances_are_refused():
    with pytest.raises(TypeError, match=r"unsaved messaging\.Message"):
        echo(Message(content="alice"))


class Report:
    def __init__(self, account):
        self.account = account

    def cache_key(self):
        return self.account

    @cache_result(timeout=60)
    def total(self, month):
        seen.append((self.account, month))
        return f"{self.account}:{month}"

    @classmethod
    @cache_result(timeout=60)
    def kind(cls, name):
        seen.append(name)
        return f"{cls.__name__}:{name}"


class Plain:
    @cache_result(timeout=60)
    def value(self):
        return 1


def test_methods_are_keyed_by_cache_key_and_classmethods_by_class():
    assert Report("a").total(1) == Report("a").total(1) == "a:1"
    assert Report("b").total(1) == "b:1"
    assert Report.kind("x") == Report.kind("x") == "Report:x"
    assert seen == [("a", 1), ("b", 1), "x"]
    with pytest.raises(TypeError, match="cache_key"):
        Plain().value()


def test_a_key_function_replaces_the_arguments():
    @cache_result(timeout=60, key_prefix="tests.by_account", key=lambda report, month: month)
    def by_account(report, month):
        seen.append(month)
        return month

    assert by_account(object(), 3) == by_account(object(), 3) == 3
    assert seen == [3]


def test_an_argument_that_cannot_be_keyed_says_what_to_do():
    with pytest.raises(TypeError, match="cannot build a key from an argument of type Plain"):
        echo(Plain())


# --- Misuse, unstorable values, names (items 5, 6, 9) ----------------------------------------


@cache_result
def bare(x):
    seen.append(x)
    return x


def test_the_bare_decorator_works_and_async_functions_are_refused():
    assert bare(1) == bare(1) == 1
    assert seen == [1]

    with pytest.raises(TypeError, match="async"):

        @cache_result(timeout=60, key_prefix="tests.fetch")
        async def fetch(x):
            return x


def test_an_unpicklable_value_is_returned_and_not_cached(caplog):
    @cache_result(timeout=60, key_prefix="tests.lock_maker")
    def lock_maker(x):
        seen.append(x)
        return threading.Lock()

    assert lock_maker(1) is not None
    assert lock_maker(1) is not None
    assert seen == [1, 1]
    assert len([r for r in caplog.records if "cannot be stored" in r.getMessage()]) == 1


def test_functions_that_share_a_name_need_a_key_prefix():
    with pytest.raises(TypeError, match="key_prefix"):
        cache_result(timeout=60)(lambda x: x)

    def make(n):
        @cache_result(timeout=60)
        def add(x):
            return x + n

        return add

    with pytest.raises(TypeError, match="key_prefix"):
        make(1)
    one = cache_result(timeout=60, key_prefix="tests.plus_one")(lambda x: x + 1)
    two = cache_result(timeout=60, key_prefix="tests.plus_two")(lambda x: x + 2)
    assert (one(1), two(1)) == (2, 3)


# --- Invalidation (items 8, 10) and what ops see (item 11) -----------------------------------

state: dict = {}


@cache_result(timeout=60)
def current_value(x):
    value = state["value"]
    if state.pop("invalidate_while_computing", None):  # another process invalidates now
        state["value"] = "new"
        state["invalidate"](x)
    return value


@pytest.mark.parametrize("how", ["one", "all"])
def test_an_invalidation_during_a_computation_is_not_lost(how):
    state.update(
        value="old",
        invalidate_while_computing=True,
        invalidate=current_value.invalidate
        if how == "one"
        else lambda x: current_value.invalidate_all(),
    )
    assert current_value(1) == "old"
    assert current_value(1) == "new"


def test_invalidate_all_leaves_no_entry_behind_even_without_expiry():
    @cache_result(timeout=None, key_prefix="tests.forever")
    def forever(x):
        return x

    for n in range(50):
        forever(n)
    client = redis.Redis.from_url(settings.REDIS_CACHE_URL)
    entries = [
        k for k in client.scan_iter("*cache_result:tests.forever:*") if b"generation" not in k
    ]
    assert len(entries) == 50
    forever.invalidate_all()
    assert list(client.scan_iter("*cache_result:tests.forever:*")) == []


@cache_result(timeout=60)
def tally(a, b=2):
    seen.append(a)
    return f"{a}-{b}-{len(seen)}"


def test_refresh_cache_key_and_counts(capsys):
    assert tally(5) == tally(5) == "5-2-1"
    refreshed = tally.refresh(5)
    assert tally(5) == refreshed == "5-2-2"
    assert tally.cache_key(5) == tally.cache_key(5, b=2) != tally.cache_key(6)
    assert tally.cache_stats() == {"hits": 2, "misses": 1}
    call_command("cache_result_stats")
    assert "tests.test_cache_result.tally: 2 hits, 1 misses (67% hits)" in capsys.readouterr().out


# --- Dead computations and a hung Redis (item 7) ---------------------------------------------


@cache_result(timeout=60)
def long_report(x):
    redis.Redis.from_url(settings.REDIS_CACHE_URL).incr(COUNTER)
    time.sleep(x)
    return {"x": x}


def _compute_long_report(seconds):
    long_report(seconds)


def _lock_of(client, x) -> list:
    return list(client.scan_iter(f"*{long_report.cache_key(x)}:lock"))


def test_a_computation_renews_its_short_lock_and_its_death_frees_the_entry():
    client = redis.Redis.from_url(settings.REDIS_CACHE_URL)
    client.delete(COUNTER)
    ctx = multiprocessing.get_context("fork")
    holder = ctx.Process(target=_compute_long_report, args=(60,))
    holder.start()
    try:
        [lock] = wait_for(lambda: _lock_of(client, 60), timeout=10)
        assert 0 < client.pttl(lock) <= LOCK_SECONDS * 1000
        # Renewed while the computation runs: its time to live goes down, then back up.
        mark = (LOCK_SECONDS - RENEW_SECONDS / 2) * 1000
        wait_for(lambda: 0 < client.pttl(lock) < mark, timeout=LOCK_SECONDS + 2)
        wait_for(lambda: client.pttl(lock) > mark, timeout=RENEW_SECONDS + 2)
        os.kill(holder.pid, signal.SIGKILL)
        holder.join()
        wait_for(lambda: not client.exists(lock), timeout=LOCK_SECONDS + 2)
    finally:
        if holder.is_alive():
            holder.kill()
    # A later caller computes the value itself instead of waiting for the dead one.
    assert long_report(0) == {"x": 0}


def test_a_hung_cache_is_skipped_after_its_first_timeout(tmp_path, settings, caplog):
    server = RedisServer(tmp_path)
    server.start()
    settings.CACHES = {
        **settings.CACHES,
        "hung": {**settings.CACHES["default"], "LOCATION": server.url(0)},
    }

    @cache_result(timeout=60, cache_alias="hung", key_prefix="tests.on_hung")
    def on_hung(x):
        seen.append(x)
        return x

    try:
        assert on_hung(1) == on_hung(1) == 1
        assert seen == [1]
        os.kill(server.process.pid, signal.SIGSTOP)
        assert [on_hung(2), on_hung(2), on_hung(2)] == [2, 2, 2]
        assert seen == [1, 2, 2, 2]
        where = f"127.0.0.1:{server.port}"
        failures = [
            r for r in caplog.records if "failed" in r.getMessage() and where in r.getMessage()
        ]
        assert len(failures) == 1  # one timeout, then the cache's server is skipped
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
        server.stop()
        redis_health.breaker_of_cache("hung").until = 0


def test_a_timed_out_write_of_a_large_value_does_not_mark_the_server_down(tmp_path):
    server = RedisServer(tmp_path)
    server.start()
    pool = redis.ConnectionPool(
        host="127.0.0.1",
        port=server.port,
        socket_timeout=0.05,
        socket_connect_timeout=2,
        connection_class=redis_health.GuardedConnection,
    )
    client = redis.Redis(connection_pool=pool)
    breaker = redis_health.breaker("127.0.0.1", server.port)
    try:
        assert client.ping()
        with pytest.raises(redis.TimeoutError):
            client.set("huge", b"x" * 300_000_000)  # far more than 0.05 s to write
        assert not breaker.is_open()
        # An ordinary command that times out is a hung server: marked down at once.
        os.kill(server.process.pid, signal.SIGSTOP)
        with pytest.raises(redis.RedisError):
            client.get("small")
        assert breaker.is_open()
    finally:
        os.kill(server.process.pid, signal.SIGCONT)
        server.stop()
        breaker.until = 0


def test_a_value_over_the_size_limit_is_returned_not_stored_and_the_cache_stays_up(
    settings, caplog
):
    settings.CACHE_MAX_VALUE_BYTES = 1000

    @cache_result(timeout=60, key_prefix="tests.big")
    def big(x):
        seen.append(x)
        return b"x" * 5000

    assert big(1) == big(1) == b"x" * 5000
    assert seen == [1, 1]
    assert len([r for r in caplog.records if "CACHE_MAX_VALUE_BYTES" in r.getMessage()]) == 1
    assert not redis_health.breaker_of_cache("default").is_open()
