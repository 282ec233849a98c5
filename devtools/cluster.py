"""A local cluster of the distributed setups the platform runs on, on loopback ports and in
a temporary directory: a PostgreSQL primary with a streaming replica (`initdb`,
`pg_basebackup -R`, devtools/postgres.py), and a Redis primary with a replica watched by
three Sentinels. The cluster tests and anyone trying the platform on it use it:

    python -m devtools.cluster      # starts it, prints the environment, Ctrl-C removes it
"""

import contextlib
import os
import shutil
import signal
import subprocess
import tempfile
import time
from pathlib import Path

import psycopg
import redis

from devtools import postgres

MASTER_NAME = "mymaster"


def free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_until(condition, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while True:
        if result := condition():
            return result
        if time.monotonic() > deadline:
            raise TimeoutError(f"{what}: not within {timeout} s")
        time.sleep(0.05)


class PostgresPair:
    """A primary and a streaming replica; the replica applies WAL `apply_delay_ms` late
    (`recovery_min_apply_delay`), to make replication delay visible."""

    def __init__(self, directory: Path, *, apply_delay_ms: int = 0):
        self.primary = postgres.Server(directory / "primary", free_port())
        self.replica = postgres.Server(directory / "replica", free_port())
        self.apply_delay_ms = apply_delay_ms

    def url(self, role: str = "primary", database: str = "platform") -> str:
        return (self.primary if role == "primary" else self.replica).url(database)

    def start(self) -> None:
        self.primary.init()
        self.primary.start()
        self.primary.create_database("platform")
        self.primary.base_backup(self.replica)
        with (self.replica.data / "postgresql.auto.conf").open("a") as conf:
            conf.write(f"recovery_min_apply_delay = '{self.apply_delay_ms}ms'\n")
        self.start_replica()

    def start_replica(self) -> None:
        self.replica.start()

    def stop_replica(self) -> None:
        self.replica.stop()

    def stop(self) -> None:
        for server in (self.replica, self.primary):
            if (server.data / "postmaster.pid").exists():
                server.stop()

    def query(self, role: str, sql: str, *params):
        with psycopg.connect(self.url(role), autocommit=True) as conn:
            cursor = conn.execute(sql, params)
            return cursor.fetchall() if cursor.description else []


class SentinelGroup:
    """A Redis primary, a replica, and three Sentinels watching them (quorum 2, a primary
    is down after `down_after_ms` without answering)."""

    def __init__(self, directory: Path, *, down_after_ms: int = 1000):
        self.directory = directory
        self.down_after_ms = down_after_ms
        self.ports = {"primary": free_port(), "replica": free_port()}
        self.sentinel_ports = [free_port() for _ in range(3)]
        self.processes: dict[str, subprocess.Popen] = {}
        directory.mkdir(parents=True, exist_ok=True)

    def url(self, db: int = 0) -> str:
        """The Sentinel URL (kombu's form) of database `db`."""
        return ";".join(f"sentinel://127.0.0.1:{port}" for port in self.sentinel_ports) + f"/{db}"

    def _start(self, name: str, *arguments: str) -> None:
        log = (self.directory / f"{name}.log").open("ab")
        self.processes[name] = subprocess.Popen(
            ["redis-server", *arguments], stdout=log, stderr=subprocess.STDOUT
        )

    def _server(self, name: str, *extra: str) -> None:
        port = str(self.ports[name])
        data = self.directory / name
        data.mkdir(exist_ok=True)
        self._start(name, "--port", port, "--bind", "127.0.0.1", "--save", "",
                    "--appendonly", "no", "--dir", str(data), *extra)  # fmt: skip

    def start(self) -> None:
        self._server("primary")
        self._server("replica", "--replicaof", "127.0.0.1", str(self.ports["primary"]))
        replica = redis.Redis(port=self.ports["replica"])
        wait_until(
            lambda: (
                self._answers(replica) and replica.info("replication")["master_link_status"] == "up"
            ),
            timeout=20,
            what="Redis replica in sync",
        )
        for number, port in enumerate(self.sentinel_ports):
            conf = self.directory / f"sentinel-{number}.conf"
            conf.write_text(
                f"port {port}\nbind 127.0.0.1\ndir {self.directory}\n"
                f"sentinel monitor {MASTER_NAME} 127.0.0.1 {self.ports['primary']} 2\n"
                f"sentinel down-after-milliseconds {MASTER_NAME} {self.down_after_ms}\n"
                f"sentinel failover-timeout {MASTER_NAME} 10000\n"
                f"sentinel parallel-syncs {MASTER_NAME} 1\n"
            )
            self._start(f"sentinel-{number}", str(conf), "--sentinel")
        for port in self.sentinel_ports:
            # A Sentinel that knows the replica and the two others can vote in a failover.
            sentinel = redis.Redis(port=port, decode_responses=True)
            wait_until(
                lambda s=sentinel: (
                    self._answers(s)
                    and int(s.sentinel_master(MASTER_NAME)["num-other-sentinels"]) == 2
                    and int(s.sentinel_master(MASTER_NAME)["num-slaves"]) == 1
                ),
                timeout=30,
                what=f"Sentinel on {port} ready",
            )

    @staticmethod
    def _answers(client: redis.Redis) -> bool:
        try:
            return client.ping()
        except redis.ConnectionError:
            return False

    def master_port(self) -> int:
        sentinel = redis.Redis(port=self.sentinel_ports[0], decode_responses=True)
        return int(sentinel.sentinel_get_master_addr_by_name(MASTER_NAME)[1])

    def kill_primary(self) -> None:
        """SIGKILL the Redis primary, as a crashed machine would go."""
        self.processes["primary"].send_signal(signal.SIGKILL)
        self.processes["primary"].wait()

    def stop(self) -> None:
        for process in self.processes.values():
            if process.poll() is None:
                process.kill()
                process.wait()


@contextlib.contextmanager
def cluster(*, apply_delay_ms: int = 0, directory: Path | None = None):
    """Start both groups; stop them and remove their files on the way out, pass or fail."""
    root = directory or Path(tempfile.mkdtemp(prefix="cluster-"))
    postgres = PostgresPair(root / "postgres", apply_delay_ms=apply_delay_ms)
    sentinels = SentinelGroup(root / "redis")
    try:
        postgres.start()
        sentinels.start()
        yield postgres, sentinels
    finally:
        sentinels.stop()
        postgres.stop()
        shutil.rmtree(root, ignore_errors=True)


def environment(postgres: PostgresPair, sentinels: SentinelGroup) -> dict[str, str]:
    """The platform's settings for this cluster."""
    return {
        "DATABASE_URL": postgres.url("primary"),
        "DATABASE_REPLICA_URLS": postgres.url("replica"),
        "REDIS_URL": sentinels.url(0),
        "REDIS_CACHE_URL": sentinels.url(1),
        "REDIS_SENTINEL_MASTER": MASTER_NAME,
    }


if __name__ == "__main__":
    with cluster(apply_delay_ms=int(os.environ.get("REPLICA_APPLY_DELAY_MS", "0"))) as parts:
        for name, value in environment(*parts).items():
            print(f"export {name}='{value}'")
        print("# running; Ctrl-C stops and removes it", flush=True)
        with contextlib.suppress(KeyboardInterrupt):
            signal.pause()
