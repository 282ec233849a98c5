"""DATABASES entries from URLs (dj-database-url), for the settings to compose."""

import dj_database_url


def replicas(urls: list[str], *, conn_max_age: int, connect_timeout: int) -> dict[str, dict]:
    """`replica_1`, `replica_2`... for PostgreSQL streaming replicas (core/replicas.py routes
    reads to them). Tests mirror them on the primary."""
    return {
        f"replica_{number}": {
            # No health check at a request's first query: Django's `SELECT 1` goes around
            # core.replicas' query bound and would hang on a stopped replica. A dead
            # connection fails the view's first query instead, which then runs on the primary.
            **dj_database_url.parse(url, conn_max_age=conn_max_age, conn_health_checks=False),
            # A replica that does not answer costs a request this long, then is skipped.
            "OPTIONS": {"connect_timeout": connect_timeout},
            "TEST": {"MIRROR": "default"},
        }
        for number, url in enumerate(urls, start=1)
    }
