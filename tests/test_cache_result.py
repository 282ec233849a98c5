"""cache_result on the real Redis."""

import multiprocessing
import time

import pytest
import redis
from django.conf import settings

from devtools.factories import UserFactory
from maintenance.utils import cache_result
from tests.servers import free_port

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

    @cache_result(timeout=60, cache_alias="dead")
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
