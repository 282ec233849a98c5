"""Private servers for fault tests: a Redis and Celery workers of their own, on free ports.

Fault tests stop and kill these, never the machine's shared services.
"""

import contextlib
import os
import signal
import subprocess
import sys
from pathlib import Path

import redis

from tests.conftest import ROOT, free_port, stop, subprocess_env, wait_for


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


class Worker:
    """A Celery worker (and its children) in a process group of its own, supervised as in
    production (scripts/supervise starts it again if it crashes)."""

    def __init__(self, log: Path, **env):
        self.log = log
        self.env = env
        self.process: subprocess.Popen | None = None

    def start(self) -> "Worker":
        offset = self.log.stat().st_size if self.log.exists() else 0
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "celery_app",
                    "worker",
                    "-Q",
                    "default,maintenance",
                    "--concurrency",
                    "2",
                    "--loglevel",
                    "INFO",
                    "--without-mingle",
                    "--without-gossip",
                    "-n",
                    f"fault-{free_port()}@%h",
                ],
                cwd=ROOT,
                env=subprocess_env(**self.env),
                stdout=out,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        wait_for(lambda: b" ready." in self.log.read_bytes()[offset:], timeout=60)
        return self

    def kill(self) -> None:
        """SIGKILL the whole worker, children included, as a crashed machine would."""
        os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.kill()


class PostgresServer:
    """A throw-away PostgreSQL cluster (run as the postgres user) that can be restarted."""

    def __init__(self, directory: Path):
        self.port = free_port()
        self.data = directory / "pgdata"
        self.socket_dir = directory
        self.bin = sorted(Path("/usr/lib/postgresql").glob("*/bin"))[-1]
        directory.mkdir(parents=True, exist_ok=True)
        # The server runs as postgres: let it reach its directory through pytest's tmp tree.
        for path in (directory, *directory.parents):
            if str(path).startswith("/tmp/"):
                path.chmod(path.stat().st_mode | 0o711)
        directory.chmod(0o777)

    def _as_postgres(self, *command: str) -> None:
        subprocess.run(
            ["runuser", "-u", "postgres", "--", *command],
            check=True,
            capture_output=True,
            cwd="/",
        )

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        self._as_postgres(
            str(self.bin / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres"
        )
        self.start()

    def start(self) -> None:
        self._as_postgres(
            str(self.bin / "pg_ctl"),
            "-D",
            str(self.data),
            "-w",
            "-l",
            str(self.socket_dir / "pg.log"),
            "-o",
            f"-p {self.port} -k {self.socket_dir} -c listen_addresses=127.0.0.1",
            "start",
        )

    def stop(self) -> None:
        # Already stopped when a test failed while the server was down.
        with contextlib.suppress(subprocess.CalledProcessError):
            self._as_postgres(str(self.bin / "pg_ctl"), "-D", str(self.data), "-m", "fast", "stop")
