"""The one reader of the environment: environs (marshmallow's validation behind typed
getters). Chosen over django-environ because a bad value names its variable and says what it
expects ('Environment variable "NUM_PROXIES" invalid: Not a valid integer.') and ranges and
choices are validators; over pydantic-settings because Django settings are module constants,
not one model. Every variable is read here, in config/settings/, and nowhere else.
"""

import os
import warnings
from pathlib import Path
from typing import Any

from environs import Env, validate

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = Env()

# Validators used throughout (marshmallow's).
positive = validate.Range(min=0, min_inclusive=False)
non_negative = validate.Range(min=0)
hour = validate.Range(min=0, max=23)
# A rate as DRF and the send limit read it: "60/min", "20/m", "1000/hour"...
rate = validate.Regexp(
    r"^\d+/(s|sec|second|m|min|minute|h|hour|d|day)$",
    error="Expected a rate such as 60/min (per s, min, hour or day).",
)


def redis_url(value: str) -> None:
    """A Redis URL as redis-py (redis://, rediss://, unix://) or kombu (sentinel://) reads it."""
    if value.split(":", 1)[0] not in {"redis", "rediss", "unix", "sentinel"}:
        raise validate.ValidationError(
            "Expected a redis://, rediss://, unix:// or sentinel:// URL."
        )


def renamed(getter: str, name: str, old_name: str, default: Any, **options) -> Any:
    """Read `name`; until operators move, `old_name` still works, with a warning."""
    read = getattr(env, getter)
    if name not in os.environ and old_name in os.environ:
        warnings.warn(f"{old_name} is deprecated: set {name} instead", FutureWarning, stacklevel=2)
        return read(old_name, default, **options)
    return read(name, default, **options)
