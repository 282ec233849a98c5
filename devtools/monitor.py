"""Prometheus (Debian's package) against `make start`'s processes, without containers:
`make monitor`. The configuration is compose's (deploy/prometheus/prometheus.yml) with each
service's targets rewritten to the local port the Procfile gives it.

    python -m devtools.monitor [--listen 127.0.0.1:9090]   # runs Prometheus in the foreground
"""

import argparse
import os
import sys
from pathlib import Path

import yaml

BASE_DIR = Path(__file__).resolve().parent.parent
CONFIG = BASE_DIR / "deploy" / "prometheus" / "prometheus.yml"
PROMETHEUS = "/usr/bin/prometheus"
# The Procfile's metrics ports (WEB_METRICS_PORT and the others override them there).
LOCAL_PORTS = {"web": 9101, "events": 9102, "worker": 9103, "relay": 9104}


def local_ports() -> dict[str, int]:
    return {
        job: int(os.environ.get(f"{job.upper()}_METRICS_PORT", port))
        for job, port in LOCAL_PORTS.items()
    }


def write_config(directory: Path, ports: dict[str, int], *, interval: str | None = None) -> Path:
    """Compose's configuration, scraping 127.0.0.1:<port> of each job in `ports`."""
    directory.mkdir(parents=True, exist_ok=True)
    config = yaml.safe_load(CONFIG.read_text())
    config["rule_files"] = [str(CONFIG.parent / name) for name in config["rule_files"]]
    if interval:
        config["global"]["scrape_interval"] = config["global"]["evaluation_interval"] = interval
    for job in config["scrape_configs"]:
        job.pop("dns_sd_configs", None)
        job["static_configs"] = [{"targets": [f"127.0.0.1:{ports[job['job_name']]}"]}]
    path = directory / "prometheus.yml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    return path


def command(config: Path, data: Path, listen: str) -> list[str]:
    return [
        PROMETHEUS,
        f"--config.file={config}",
        f"--storage.tsdb.path={data}",
        f"--web.listen-address={listen}",
        "--storage.tsdb.retention.time=2d",
    ]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--listen", default="127.0.0.1:9090")
    args = parser.parse_args()
    directory = BASE_DIR / ".local" / "monitor"
    config = write_config(directory, local_ports())
    print(f"Prometheus on http://{args.listen}/ scraping {local_ports()}", flush=True)
    os.execv(PROMETHEUS, command(config, directory / "data", args.listen))


if __name__ == "__main__":
    sys.exit(main())
