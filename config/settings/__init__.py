"""Settings of the messaging and maintenance platform, one module per concern.

Every value an operator may change is an environment variable read through one typed
reader (config/settings/env.py) that refuses a bad value at start, naming the variable and
what it expects; the defaults give a working local setup on the local PostgreSQL and Redis.
"""

from config.settings.api import *  # noqa: F403
from config.settings.base import *  # noqa: F403
from config.settings.cache import *  # noqa: F403
from config.settings.celery import *  # noqa: F403
from config.settings.database import *  # noqa: F403
from config.settings.jobs import *  # noqa: F403
from config.settings.logs import *  # noqa: F403
from config.settings.messaging import *  # noqa: F403
from config.settings.observability import *  # noqa: F403
from config.settings.outbox import *  # noqa: F403
from config.settings.security import *  # noqa: F403
