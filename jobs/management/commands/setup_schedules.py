from django.core.management.base import BaseCommand

from jobs.schedules import setup_schedules
from maintenance.cleanup import ensure_roots


class Command(BaseCommand):
    help = (
        "Create the default beat schedules (idempotent; schedules edited by ops are kept) "
        "and the directories the default jobs work in."
    )

    def handle(self, *args, **options):
        for path in ensure_roots():
            self.stdout.write(f"Created {path}")
        created = setup_schedules()
        for name in created:
            self.stdout.write(f"Scheduled {name!r}")
        if not created:
            self.stdout.write("Schedules already in place.")
