"""The periodic jobs beat runs, created once and then owned by ops in the admin."""

import json

from django.conf import settings
from django_celery_beat.models import IntervalSchedule, PeriodicTask


def setup_schedules() -> list[str]:
    """Create the default schedules unless a job of that name exists. Returns those created.

    An existing job is left as ops set it in the admin, so running this at every start
    never undoes a change.
    """
    reconcile, _ = IntervalSchedule.objects.get_or_create(
        every=settings.MAINTENANCE_RECONCILE_MINUTES, period=IntervalSchedule.MINUTES
    )
    jobs = [
        {
            "name": "reconcile notifications",
            "task": "messaging.tasks.reconcile_notifications",
            "interval": reconcile,
        },
    ]
    created = []
    for job in jobs:
        name = job.pop("name")
        job.setdefault("kwargs", json.dumps({}))
        _, was_created = PeriodicTask.objects.get_or_create(name=name, defaults=job)
        if was_created:
            created.append(name)
    return created
