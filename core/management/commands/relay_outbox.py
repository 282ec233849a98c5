from django.core.management.base import BaseCommand

from core import outbox


class Command(BaseCommand):
    help = "Publish the outbox as it commits (core/outbox.py); run one or more, anywhere."
    # A publisher, like the worker: the web process and `manage.py check` judge the settings.
    requires_system_checks = []

    def handle(self, *args, **options):
        outbox.Relay().run()
