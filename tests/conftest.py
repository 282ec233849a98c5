from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.core.cache import cache
from django.core.management.base import CommandError
from django.core.management.commands import flush
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from core import outbox
from core.models import OutboxRow
from devtools.factories import UserFactory
from tests import parallel, servers
from tests.servers import UNLIMITED_SENDS, RedisServer, Worker, wait_for

pytest_plugins = ["tests.browsing"]


@pytest.hookimpl(wrapper=True)
def pytest_runtest_makereport(item, call):
    """Keep each phase's report on the test item (browser tests screenshot on failure)."""
    report = yield
    setattr(item, f"rep_{report.when}", report)
    return report


@pytest.fixture(scope="session", autouse=True)
def _isolated_redis():
    """Tests own Redis databases 14 and 15 (and those tests/parallel.py gives the other
    processes of a parallel run); anything else means a misconfigured run."""
    owned = {str(number) for pair in parallel.REDIS_DATABASES for number in pair}
    for url in (settings.REDIS_URL, settings.REDIS_CACHE_URL):
        assert url.rsplit("/", 1)[-1] in owned, f"tests must not use {url}: run `make test`"
    redis.Redis.from_url(settings.REDIS_URL).flushdb()


@pytest.fixture(scope="session", autouse=True)
def _flush_outlives_a_deadlock():
    """A transactional test's teardown empties every table with one TRUNCATE, which locks
    them one after another: a process of the platform still reading two of them (the relay,
    a worker, a stream's re-check) can deadlock with it, and PostgreSQL then cancels the
    TRUNCATE. That is the teardown's race, not the platform's (nothing in it truncates):
    the flush tries again, at most three times."""
    handle = flush.Command.handle

    def patient(self, **options):
        for attempt in range(3):
            try:
                return handle(self, **options)
            except CommandError as error:
                # PostgreSQL cancelled the TRUNCATE and let the other through: the next
                # one waits for its locks like any statement.
                if "deadlock detected" not in str(error.__cause__) or attempt == 2:
                    raise
        return None

    flush.Command.handle = patient
    yield
    flush.Command.handle = handle


@pytest.fixture(autouse=True)
def _fresh_cache():
    cache.clear()


@pytest.fixture(autouse=True)
def _fast_passwords(settings):
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _unlimited_sends(settings):
    """Tests send in bursts; the send rate limit has its own tests."""
    settings.MESSAGE_SEND_RATE = UNLIMITED_SENDS


@pytest.fixture(scope="session")
def media_root(tmp_path_factory) -> Path:
    """One media directory for the test process and the worker subprocess."""
    return tmp_path_factory.mktemp("media")


@pytest.fixture(autouse=True)
def _media_settings(media_root, settings):
    settings.MEDIA_ROOT = media_root
    settings.MAINTENANCE_CLEANUP_ROOTS = [media_root / "tmp"]


@pytest.fixture
def published():
    """(task name, args, kwargs) of every task published to the broker during the test."""
    from celery.signals import before_task_publish

    seen = []

    def record(sender=None, headers=None, body=None, **kwargs):
        args, task_kwargs, _ = body
        seen.append((sender, tuple(args), task_kwargs))

    before_task_publish.connect(record, weak=False)
    yield seen
    before_task_publish.disconnect(record)


@pytest.fixture
def private_redis(tmp_path):
    """A redis-server of the test's own, to stop and start on purpose."""
    server = RedisServer(tmp_path)
    server.start()
    yield server
    server.stop()


@pytest.fixture
def user(db):
    return UserFactory()


@pytest.fixture
def other_user(db):
    return UserFactory()


def client_for(user) -> APIClient:
    client = APIClient()
    token, _ = Token.objects.get_or_create(user=user)
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.key}")
    return client


@pytest.fixture
def api(user):
    return client_for(user)


@pytest.fixture
def celery_worker(_session_worker, transactional_db):
    """The session's worker and relay, for a test whose writes commit."""
    return _session_worker


@pytest.fixture(autouse=True)
def _effects_settled(request):
    """After a test whose writes committed, while the session's relay and worker run: let
    the effects it left through before its tables are emptied (a flush racing the relay and
    the worker deadlocked on their locks). Set up after pytest-django's database fixture, so
    torn down before its flush."""
    yield
    transactional = request.node.get_closest_marker("django_db")
    if not (transactional and transactional.kwargs.get("transaction")) and not {
        "transactional_db",
        "live_server",
    } & set(request.fixturenames):
        return
    if not servers.relay_running():
        return
    broker = redis.Redis.from_url(settings.REDIS_URL)
    published = outbox.topics()

    def settled() -> bool:
        waiting = OutboxRow.objects.filter(topic__in=list(published)).exists()
        return not waiting and broker.llen("default") == 0 and broker.hlen("unacked") == 0

    wait_for(settled, timeout=30)


@pytest.fixture(scope="session")
def _session_worker(django_db_setup, django_db_blocker, tmp_path_factory, media_root):
    """A real Celery worker process on the test database and the test broker, with the
    outbox relay that publishes its tasks."""
    logs = tmp_path_factory.mktemp("worker")
    with django_db_blocker.unblock():
        worker = Worker(logs / "worker.log", MEDIA_ROOT=str(media_root)).start()
    try:
        yield worker.process
    finally:
        worker.stop()
        print((logs / "worker.log").read_text()[-3000:])
        print((logs / "worker-relay.log").read_text()[-2000:])
