#!/usr/bin/env bash
# Starts the whole platform locally: web, Celery worker, beat and Flower, on SQLite and the
# local Redis. Run through `make start`, which creates the virtualenv first.
set -euo pipefail
cd "$(dirname "$0")/.."

# This machine's settings, written once. manage.py reads .env (so every command of the
# README works), and this script hands it to web, worker, beat and Flower; the environment
# still wins over it.
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
export REDIS_URL="${REDIS_URL:-redis://127.0.0.1:6379/0}"

if ! .venv/bin/python -c "import os, redis; redis.Redis.from_url(os.environ['REDIS_URL'], socket_connect_timeout=1).ping()" 2>/dev/null; then
    cat >&2 <<MSG
Redis does not answer at $REDIS_URL. Start one, for example:
    redis-server --daemonize yes --bind 127.0.0.1 --port 6379 --save "" --appendonly no
or point REDIS_URL at a running server, then run this command again.
MSG
    exit 1
fi

.venv/bin/python manage.py migrate --noinput
.venv/bin/python manage.py setup_demo
.venv/bin/python manage.py setup_schedules

cat <<MSG

  Web:    http://127.0.0.1:${WEB_PORT:-8000}/   (admin: /admin/, API docs: /api/docs/)
  Flower: http://127.0.0.1:${FLOWER_PORT:-5555}/

MSG
# The environment is complete: honcho must not apply .env over it (it would win).
exec .venv/bin/honcho start --env /dev/null
