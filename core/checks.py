"""System checks of the Celery settings that a comment cannot enforce."""

from celery import current_app as app
from django.conf import settings
from django.core.checks import Error, register


@register()
def visibility_timeout_exceeds_task_time_limits(app_configs=None, **kwargs) -> list[Error]:
    """Redis redelivers a message not acknowledged within the visibility timeout: a task
    that may run longer than that is started a second time while the first still runs."""
    # The apps' task modules are imported by now (their receivers use them). Not
    # import_default_modules(): Celery runs the system checks from it.
    limits = {name: task.time_limit for name, task in app.tasks.items() if task.time_limit}
    limits["CELERY_TASK_TIME_LIMIT"] = app.conf.task_time_limit or 0
    name, longest = max(limits.items(), key=lambda item: item[1])
    timeout = settings.CELERY_VISIBILITY_TIMEOUT
    if timeout > longest:
        return []
    return [
        Error(
            f"CELERY_VISIBILITY_TIMEOUT ({timeout} s) must exceed the longest task time limit "
            f"({longest} s, {name}).",
            hint="Raise CELERY_VISIBILITY_TIMEOUT, or lower the time limit.",
            id="core.E001",
        )
    ]
