"""The suite in two processes at once (pytest-xdist's `-n 2`, as `make test` runs it).

Each process needs a broker and a cache of its own: the real worker a process starts
consumes every task on its broker, and would run another process's against the wrong
test database. Loaded with `-p tests.parallel`, this module is imported before
pytest-django reads the settings, and gives worker gwN the Redis databases of
REDIS_DATABASES[N] (gw0 keeps 14 and 15, those of a run without xdist). pytest-django
already gives each its own test database (test_platform_gw0, test_platform_gw1).
"""

import os
import re

# The platform uses database 0 (and 1 for its cache), bench/ 12 and 13.
REDIS_DATABASES = [(14, 15), (10, 11), (8, 9), (6, 7)]


def _with_database(url: str, number: int) -> str:
    return re.sub(r"/\d+$", f"/{number}", url) if re.search(r"/\d+$", url) else f"{url}/{number}"


_worker = os.environ.get("PYTEST_XDIST_WORKER")
if _worker:
    _broker, _cache = REDIS_DATABASES[int(_worker.removeprefix("gw"))]
    os.environ["REDIS_URL"] = _with_database(os.environ["REDIS_URL"], _broker)
    os.environ["REDIS_CACHE_URL"] = _with_database(os.environ["REDIS_CACHE_URL"], _cache)
