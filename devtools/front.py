"""nginx in front of the platform without containers: compose's own template
(deploy/nginx.conf.template) in a main configuration of ours, so that `make start` serves as
production does (one origin; pages and the API on gunicorn, the streams on the ASGI server)
and the tests run the very file compose mounts.

    python -m devtools.front LISTEN WEB EVENTS    # runs nginx in the foreground
"""

import os
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parent.parent
TEMPLATE = BASE_DIR / "deploy" / "nginx.conf.template"
NGINX = "/usr/sbin/nginx"


def write_config(directory: Path, *, listen: str, web: str, events: str) -> Path:
    """Write nginx.conf (and the server block from the template) into `directory`."""
    directory.mkdir(parents=True, exist_ok=True)
    server = TEMPLATE.read_text()
    values = {"LISTEN_PORT": listen, "WEB_UPSTREAM": web, "EVENTS_UPSTREAM": events}
    for name, value in values.items():
        server = server.replace("${" + name + "}", value)
    (directory / "server.conf").write_text(server)
    # As root, nginx's workers would run as nobody, who cannot write our temporary folders.
    user = "user root;" if os.geteuid() == 0 else ""
    config = directory / "nginx.conf"
    config.write_text(
        f"""{user}
worker_processes 1;
pid {directory}/nginx.pid;
error_log {directory}/error.log;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    client_body_temp_path {directory}/body;
    proxy_temp_path {directory}/proxy;
    include {directory}/server.conf;
}}
"""
    )
    return config


def command(config: Path) -> list[str]:
    return [NGINX, "-c", str(config), "-g", "daemon off;"]


def main(argv: list[str]) -> None:
    if len(argv) != 4:
        sys.exit("usage: python -m devtools.front LISTEN WEB EVENTS")
    listen, web, events = argv[1:]
    config = write_config(BASE_DIR / ".local" / "front", listen=listen, web=web, events=events)
    os.execv(NGINX, command(config))


if __name__ == "__main__":
    main(sys.argv)
