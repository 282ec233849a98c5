"""gunicorn's configuration for the web and event servers (`--config config/gunicorn.py`):
the master serves its workers' metrics (core/metrics_server.py).

The master loads no Django: it reads METRICS_PORT, METRICS_ADDRESS and METRICS_DIR from the
environment itself, as the settings do in the workers (config/settings/observability.py).
"""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core import metrics_server

_port = int(os.environ.get("METRICS_PORT") or 0)
# Before the workers start: they inherit the directory of samples.
metrics_server.activate(_port, os.environ.get("METRICS_DIR"))


def on_starting(server):
    metrics_server.prune()


def when_ready(server):
    metrics_server.serve(_port, os.environ.get("METRICS_ADDRESS") or "127.0.0.1")


def child_exit(server, worker):
    metrics_server.process_dead(worker.pid)
