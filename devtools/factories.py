from datetime import timedelta

import factory
from django.contrib.auth import get_user_model
from django.utils import timezone

from jobs.models import JobRun
from messaging.models import Message

PASSWORD = "correct horse battery staple"


class UserFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = get_user_model()
        skip_postgeneration_save = True

    username = factory.Sequence(lambda n: f"user{n}")
    email = factory.LazyAttribute(lambda u: f"{u.username}@example.com")
    password = factory.django.Password(PASSWORD)


class MessageFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Message

    sender = factory.SubFactory(UserFactory)
    receiver = factory.SubFactory(UserFactory)
    content = factory.Sequence(lambda n: f"message {n}")

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        """A message written as a send writes it (messaging.services.message_insert)."""
        from messaging import services

        return services.message_insert(model_class(*args, **kwargs))


def maintenance_runs(job: str, statuses: list[str]) -> list[JobRun]:
    """One run of `job` a day up to today, with these statuses (succeeded ones count rows)."""
    start = timezone.now() - timedelta(days=len(statuses))
    runs = []
    for n, status in enumerate(statuses):
        started = start + timedelta(days=n)
        runs.append(
            JobRun.objects.create(
                task=job,
                status=status,
                started_at=started,
                finished_at=started + timedelta(seconds=n + 1),
                counts={"total": 10 * n} if status == "succeeded" else {},
                error="Traceback ...\nValueError: the disk is full" if status == "failed" else "",
            )
        )
    return runs
