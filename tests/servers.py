"""Servers the tests start: Celery workers, gunicorn, and for fault tests a Redis and a
PostgreSQL of their own on free ports (stopped and killed on purpose, never the machine's
shared services), with the helpers they share.
"""

import atexit
import contextlib
import functools
import json
import os
import re
import shlex
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from pathlib import Path

import redis
from django.conf import settings
from django.db import connection

from devtools import front
from devtools.processes import relay_command, worker_command

ROOT = Path(__file__).resolve().parent.parent


def wait_for(predicate: Callable[[], object], *, timeout: float = 20, interval: float = 0.05):
    """Poll `predicate` until it returns something truthy; fail after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        result = predicate()
        if result:
            return result
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s: {predicate}")
        time.sleep(interval)


def report(capsys, name: str, **figures) -> None:
    """Print a test's figures as a `[name] key=value` line (docs/reliability.md quotes them)."""
    with capsys.disabled():
        print(f"\n  [{name}] " + ", ".join(f"{k}={v}" for k, v in figures.items()))


def settings_variables() -> set[str]:
    """The environment variables config/settings/ reads (renamed ones with their old names)."""
    source = "".join(p.read_text() for p in (ROOT / "config/settings").glob("*.py"))
    read = re.findall(r'env\.\w+\(\s*"([A-Z0-9_]+)"', source)
    renamed = re.findall(r'renamed\(\s*"\w+",\s*"([A-Z0-9_]+)",\s*"([A-Z0-9_]+)"', source)
    return set(read) | {name for pair in renamed for name in pair}


def port_of(url: str) -> int:
    return int(url.rsplit(":", 1)[1].strip("/"))


_HANDED_OUT: set[int] = set()


def free_port() -> int:
    """A loopback port nothing listens on, and never one this process handed out before:
    the kernel can offer the same free port twice in a row, before the first is taken (a
    CI run gave the web server's and the event server's metrics the same one)."""
    while True:
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            port = sock.getsockname()[1]
        if port not in _HANDED_OUT:
            _HANDED_OUT.add(port)
            return port


def test_database_url() -> str:
    """The URL of the test database, for subprocesses (worker, server) to share it."""
    db = connection.settings_dict
    auth = db["USER"] + (f":{db['PASSWORD']}" if db["PASSWORD"] else "")
    return f"postgres://{auth}@{db['HOST'] or '127.0.0.1'}:{db['PORT'] or 5432}/{db['NAME']}"


# The send rate of the processes the tests start (they send in bursts).
UNLIMITED_SENDS = "1000000/min"


def subprocess_env(**overrides) -> dict:
    env = {
        **os.environ,
        "MESSAGE_SEND_RATE": UNLIMITED_SENDS,
        "DATABASE_URL": test_database_url(),
        "REDIS_URL": settings.REDIS_URL,
        "REDIS_CACHE_URL": settings.REDIS_CACHE_URL,
        "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        "SECRET_KEY": settings.SECRET_KEY,
        "SECURE_COOKIES": "0",
        "PYTHONUNBUFFERED": "1",
        # A developer's .env (written by `make start`) is not the tests' configuration.
        "ENV_FILE": os.devnull,
    }
    env.update(overrides)
    return env


def run_django_code(code: str, **env) -> subprocess.CompletedProcess:
    """Run `code` in a fresh Python process configured as the platform (django.setup() done
    by the code itself), with the test environment and `env`; fails if it fails."""
    return subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=subprocess_env(DJANGO_SETTINGS_MODULE="config.settings", **env),
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )


def deploy_check(env: dict) -> subprocess.CompletedProcess:
    """`manage.py check --deploy` failing on warnings, in a process with only `env` (and
    PATH) set: the settings a deployment with that environment would get."""
    return subprocess.run(
        [sys.executable, "manage.py", "check", "--deploy", "--fail-level", "WARNING"],
        cwd=ROOT,
        # Never a developer's .env (make start writes one): only what `env` says.
        env={"PATH": "/usr/bin:/bin", "ENV_FILE": os.devnull, **env},
        capture_output=True,
        text=True,
    )


def stop(process: subprocess.Popen) -> None:
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=15)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_server(log_path: Path, **env_overrides) -> tuple[subprocess.Popen, str]:
    """Start gunicorn on a free port with the test database; returns (process, base URL)."""
    port = free_port()
    command = ["gunicorn", "config.wsgi:application", "--bind", f"127.0.0.1:{port}"]
    return _serve(
        port, [*command, "--workers", "1", "--access-logfile", "-"], log_path, env_overrides
    )


def procfile_command(name: str) -> list[str]:
    """The Procfile's command of process `name`, its program named as on the PATH."""
    lines = (ROOT / "Procfile").read_text().splitlines()
    line = next(line for line in lines if line.startswith(f"{name}:"))
    command = shlex.split(line.removeprefix(f"{name}:"))
    while "=" in command[0]:  # the variables it sets (METRICS_PORT...): the tests set theirs
        command.pop(0)
    return [Path(command[0]).name, *command[1:]]


def start_web(log_path: Path, **env_overrides) -> tuple[subprocess.Popen, str]:
    """Start the web server as `make start` and compose run it (the Procfile's `web`) on a
    free port; returns (process, base URL)."""
    port = free_port()
    command = [part.replace("${PAGES_PORT:-8001}", str(port)) for part in procfile_command("web")]
    return _serve(port, command, log_path, env_overrides)


def start_events(log_path: Path, **env_overrides) -> tuple[subprocess.Popen, str]:
    """Start the event server as `make start` runs it (the Procfile's `events`) on a free
    port; returns (process, base URL)."""
    port = free_port()
    command = [
        part.replace("${EVENTS_PORT:-8002}", str(port)) for part in procfile_command("events")
    ]
    env_overrides.setdefault("STATIC_ROOT", collected_static())
    return _serve(port, command, log_path, {"DB_CONN_MAX_AGE": "0", **env_overrides})


def http(method: str, url: str, token: str, body: dict | None = None) -> tuple[int, dict]:
    """(status, JSON body) of an API request with this token to a server the tests started."""
    request = urllib.request.Request(
        url,
        method=method,
        data=json.dumps(body).encode() if body is not None else None,
        headers={"Authorization": f"Token {token}", "Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:
            return response.status, json.loads(response.read() or b"null")
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read() or b"null")


@functools.cache
def collected_static() -> str:
    """The static files, collected once for the servers the tests start (WhiteNoise serves
    them from STATIC_ROOT, as in production)."""
    directory = tempfile.mkdtemp(prefix="static-")
    atexit.register(shutil.rmtree, directory, ignore_errors=True)
    subprocess.run(
        [sys.executable, "manage.py", "collectstatic", "--noinput", "--verbosity", "0"],
        cwd=ROOT,
        env=subprocess_env(STATIC_ROOT=directory),
        check=True,
    )
    return directory


def start_asgi_server(
    log_path: Path, host: str = "127.0.0.1", **env_overrides
) -> tuple[subprocess.Popen, str]:
    """Start the ASGI application (the event streams, and Django for everything else) under
    uvicorn on a free port of `host`; returns (process, base URL on loopback)."""
    port = free_port()
    env_overrides.setdefault("STATIC_ROOT", collected_static())
    command = ["uvicorn", "config.asgi:application", "--host", host, "--port", str(port)]
    return _serve(port, [*command, "--timeout-graceful-shutdown", "2"], log_path, env_overrides)


def _serve(port: int, command: list[str], log_path: Path, env_overrides: dict):
    process = subprocess.Popen(
        [sys.executable, "-m", *command],
        cwd=ROOT,
        env=subprocess_env(**env_overrides),
        stdout=log_path.open("wb"),
        stderr=subprocess.STDOUT,
    )
    base = f"http://127.0.0.1:{port}"

    def answers():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            assert process.poll() is None, log_path.read_text()
            return False

    wait_for(answers, timeout=30)
    return process, base


class RedisServer:
    """A throw-away redis-server that can be stopped and started again on the same port."""

    def __init__(self, directory: Path):
        self.port = free_port()
        self.directory = directory
        self.process: subprocess.Popen | None = None

    def url(self, db: int = 0) -> str:
        return f"redis://127.0.0.1:{self.port}/{db}"

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.directory),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        client = redis.Redis(port=self.port, socket_connect_timeout=0.2)
        wait_for(lambda: self._answers(client), timeout=15)

    def stop(self) -> None:
        if self.process:
            stop(self.process)
            self.process = None

    @staticmethod
    def _answers(client) -> bool:
        try:
            return client.ping()
        except redis.ConnectionError:
            return False


def wait_for_run(task: str, *, timeout: float = 60):
    """The first JobRun of `task` that succeeded, once there is one."""
    from jobs.models import JobRun

    runs = JobRun.objects.filter(task=task, status="succeeded")
    return wait_for(lambda: runs.first(), timeout=timeout)


def _start_group(command: list[str], log: Path, env: dict, *, ready: bytes):
    """Start `command` in a process group of its own, appending to `log`, and wait until
    the log shows `ready`."""
    offset = log.stat().st_size if log.exists() else 0
    with log.open("ab") as out:
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=subprocess_env(**env),
            stdout=out,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    wait_for(lambda: ready in log.read_bytes()[offset:], timeout=60)
    return process


def _end_group(process: subprocess.Popen | None) -> None:
    """SIGTERM the process group, SIGKILL it if it has not ended within 20 s."""
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=20)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


class Worker:
    """A Celery worker (and its children) in a process group of its own, supervised as in
    production (scripts/supervise starts it again if it crashes), with an outbox relay on
    the same settings (the relay publishes what the writes record: tests/servers.Relay)."""

    def __init__(self, log: Path, *, queues: str = "default,maintenance", relay=True, **env):
        self.log = log
        self.queues = queues
        self.env = env
        self.process: subprocess.Popen | None = None
        self.relay = Relay(log.with_name(log.stem + "-relay.log"), **env) if relay else None

    def start(self) -> "Worker":
        command = worker_command(concurrency=2, name=f"tests-{free_port()}@%h", queues=self.queues)
        self.process = _start_group(command, self.log, self.env, ready=b" ready.")
        if self.relay and not self.relay.running():
            self.relay.start()
        return self

    def kill(self) -> None:
        """SIGKILL the whole worker, children included, as a crashed machine would (its
        relay is stopped: a worker started next brings its own)."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        if self.relay:
            self.relay.stop()

    def stop(self) -> None:
        _end_group(self.process)
        if self.relay:
            self.relay.stop()


# The relays running, newest last: one relay publishes at a time, so that a test's own
# (on its own Redis) is not beaten to the rows by the session's (on the shared one).
_relays: list["Relay"] = []
# However a session ends (a test failing between a relay's start and its stop), no relay
# outlives it.
atexit.register(lambda: [relay._terminate() for relay in list(_relays)])


class Relay:
    """The outbox relay (core/outbox.py) in a process group of its own. Starting one stops
    the relay started before it, until this one stops."""

    def __init__(self, log: Path, **env):
        self.log = log
        self.env = env
        self.process: subprocess.Popen | None = None

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def start(self) -> "Relay":
        if _relays and _relays[-1] is not self:
            _relays[-1]._terminate()
        if self not in _relays:
            _relays.append(self)
        self._spawn()
        return self

    def _spawn(self) -> None:
        if self.running():
            return
        self.process = _start_group(
            relay_command(), self.log, self.env, ready=b"outbox relay started"
        )

    def kill(self) -> None:
        """SIGKILL, as a crashed machine would (start() brings it back)."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def _terminate(self) -> None:
        _end_group(self.process)

    def stop(self) -> None:
        """Stop it for good; the relay it replaced publishes again."""
        self._terminate()
        if self in _relays:
            top = _relays[-1] is self
            _relays.remove(self)
            if top and _relays:
                _relays[-1]._spawn()


def relay_running() -> bool:
    """Whether a relay started by the tests is publishing now."""
    return bool(_relays) and _relays[-1].running()


@contextlib.contextmanager
def relays_paused():
    """No relay publishes meanwhile (a test delivering its effects in its own process)."""
    running = _relays[-1] if _relays and _relays[-1].running() else None
    if running:
        running._terminate()
    try:
        yield
    finally:
        if running:
            running._spawn()


def start_front(
    directory, upstream_port: int, events_port: int | None = None
) -> tuple[subprocess.Popen, int]:
    """nginx with compose's template (devtools/front.py) before these upstreams; returns the
    process and the port it listens on."""
    port = free_port()
    config = front.write_config(
        directory,
        listen=f"127.0.0.1:{port}",
        web=f"127.0.0.1:{upstream_port}",
        events=f"127.0.0.1:{events_port or free_port()}",
    )
    process = subprocess.Popen(
        front.command(config),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )

    def answers():
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
            return True
        except OSError:
            assert process.poll() is None, (directory / "error.log").read_text()
            return False

    wait_for(answers, timeout=20)
    return process, port
