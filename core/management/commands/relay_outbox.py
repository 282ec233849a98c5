from django.conf import settings
from django.core.management.base import BaseCommand

from core import metrics_server, outbox, telemetry


class Command(BaseCommand):
    help = "Publish the outbox as it commits (core/outbox.py); run one or more, anywhere."
    # A publisher, like the worker: the web process and `manage.py check` judge the settings.
    requires_system_checks = []

    def handle(self, *args, **options):
        telemetry.start("relay")
        metrics_server.prune()
        metrics_server.serve(
            settings.METRICS_PORT, settings.METRICS_ADDRESS, [outbox.BacklogCollector()]
        )
        outbox.Relay().run()
