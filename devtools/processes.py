"""The platform's processes as the tests and the benchmarks start them."""

import sys


def worker_command(
    *, concurrency: int, name: str | None = None, queues: str = "default,maintenance"
) -> list[str]:
    """The worker of the Procfile on every queue."""
    command = [sys.executable, "-m", "celery", "-A", "celery_app", "worker"]
    command += ["-Q", queues, "--concurrency", str(concurrency)]
    command += ["--loglevel", "INFO", "--without-mingle", "--without-gossip"]
    return command + (["-n", name] if name else [])


def relay_command() -> list[str]:
    """The outbox relay of the Procfile (core/outbox.py)."""
    return [sys.executable, "manage.py", "relay_outbox"]
