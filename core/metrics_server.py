"""Where a process's Prometheus metrics are kept and served (prometheus-client's
multiprocess mode), without Django: gunicorn's master, which loads no application, uses it.

Every process of a service (gunicorn's workers, Celery's pool) writes its samples into the
service's directory, METRICS_DIR/<METRICS_PORT>; the service's parent process (gunicorn's
master, Celery's main process, the relay) serves the directory's sum on
METRICS_ADDRESS:METRICS_PORT, a port of its own that the front never publishes. The
directory must be chosen before the first metric is made: `activate()` does that, from the
settings for Django processes and from gunicorn's configuration for its master.
"""

import contextlib
import logging
import os
import re
import sys
import tempfile
from collections.abc import Iterable
from pathlib import Path

logger = logging.getLogger(__name__)

DEFAULT_DIR = os.path.join(tempfile.gettempdir(), "platform-metrics")
_PID = re.compile(r"_(\d+)\.db$")


def activate(port: int, directory: str | None = None) -> str | None:
    """Choose this service's directory of samples (METRICS_DIR/<port>) for this process and
    the processes it starts; None (single-process mode) when metrics are off (port 0)."""
    if not port:
        return None
    path = os.path.join(directory or DEFAULT_DIR, str(port))
    os.makedirs(path, exist_ok=True)
    os.environ["PROMETHEUS_MULTIPROC_DIR"] = path
    # Imported already (Celery's command line loads Flower's plugin, which imports it): the
    # platform's metrics, all made after this, must still be kept in the directory.
    values = sys.modules.get("prometheus_client.values")
    if values is not None and values.ValueClass is values.MutexValue:
        values.ValueClass = values.MultiProcessValue()
    return path


def prune(path: str | None = None) -> int:
    """Remove the files of processes that are gone, before a service starts (their samples
    belong to a previous run). Returns how many were removed."""
    path = path or os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not path or not os.path.isdir(path):
        return 0
    removed = 0
    for entry in Path(path).glob("*.db"):
        match = _PID.search(entry.name)
        if match and not _alive(int(match.group(1))):
            with contextlib.suppress(FileNotFoundError):
                entry.unlink()
                removed += 1
    return removed


def _alive(pid: int) -> bool:
    if pid == os.getpid():
        return True
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def process_dead(pid: int) -> None:
    """A child process ended: its per-process gauges (open streams) stop counting."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid)


def serve(port: int, address: str = "127.0.0.1", collectors: Iterable = ()) -> None:
    """Serve the sum of this service's processes (and `collectors`, read at each scrape)
    on address:port, from a thread of this process."""
    if not port:
        return
    from prometheus_client import CollectorRegistry, start_http_server
    from prometheus_client.multiprocess import MultiProcessCollector

    registry = CollectorRegistry()
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        MultiProcessCollector(registry)
    else:
        from prometheus_client import REGISTRY as registry
    for collector in collectors:
        registry.register(collector)
    start_http_server(port, addr=address, registry=registry)
    logger.info("metrics served on %s:%s", address, port)
