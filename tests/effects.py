"""The outbox in tests that start no relay or worker: what a write recorded, and running it
here (task calls executed in this process as the worker would run them, events published
to the test Redis as the relay would)."""

import json

import redis
from celery import current_app
from django.conf import settings

from core import events as live
from core import outbox
from core.models import OutboxRow


def recorded(topic: str | None = None) -> list:
    """(topic, payload) of the rows waiting, oldest first (only `topic`'s if given)."""
    rows = OutboxRow.objects.order_by("id")
    if topic:
        rows = rows.filter(topic=topic)
    return list(rows.values_list("topic", "payload"))


def deliver() -> int:
    """Run every waiting row (and the rows that running them records) until none is left;
    returns how many ran."""
    current_app.loader.import_default_modules()  # the tasks, as a worker has them
    ran = 0
    while rows := list(OutboxRow.objects.order_by("id").values_list("id", "topic", "payload")):
        for row_id, name, payload in rows:
            spec = outbox.topics()[name]
            if spec.task_calls:
                for args, kwargs in spec.task_calls([payload]):
                    current_app.tasks[name].apply(args, kwargs, throw=True)
            else:
                spec.handle([outbox.Row(row_id, payload)])
            OutboxRow.objects.filter(id=row_id).delete()
            ran += 1
    return ran


def published_events(user_id: int) -> list[tuple[str, dict]]:
    """(name, data) of each live event in the user's log, oldest first."""
    log = redis.Redis.from_url(settings.EVENTS_REDIS_URL).xrange(live.log_key(user_id))
    return [(fields[b"e"].decode(), json.loads(fields[b"d"])) for _, fields in log]
