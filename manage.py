#!/usr/bin/env python
import os
import sys
from pathlib import Path


def read_env_file(path: Path) -> None:
    """Use the KEY=VALUE lines of a local .env (written by `make start`, git-ignored) where
    the environment does not already say otherwise. Production has no such file."""
    if not path.is_file():
        return
    for line in path.read_text().splitlines():
        key, sep, value = line.strip().partition("=")
        if sep and not key.startswith("#"):
            os.environ.setdefault(key.strip(), value.strip())


if __name__ == "__main__":
    read_env_file(Path(os.environ.get("ENV_FILE", Path(__file__).resolve().parent / ".env")))
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    from django.core.management import execute_from_command_line

    execute_from_command_line(sys.argv)
