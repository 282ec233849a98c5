from django.core.management.base import BaseCommand

from maintenance.schedules import setup_schedules


class Command(BaseCommand):
    help = "Create the default beat schedules (idempotent; schedules edited by ops are kept)."

    def handle(self, *args, **options):
        created = setup_schedules()
        for name in created:
            self.stdout.write(f"Scheduled {name!r}")
        if not created:
            self.stdout.write("Schedules already in place.")
