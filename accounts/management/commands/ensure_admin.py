import os

from django.contrib.auth import get_user_model
from django.core.management import call_command
from django.core.management.base import BaseCommand


class Command(BaseCommand):
    help = (
        "Create the first admin from DJANGO_SUPERUSER_USERNAME, DJANGO_SUPERUSER_PASSWORD and "
        "DJANGO_SUPERUSER_EMAIL when they are set and no user of that name exists "
        "(compose's migrate step runs it; safe to run at every start)."
    )

    def handle(self, *args, **options):
        username = os.environ.get("DJANGO_SUPERUSER_USERNAME", "").strip()
        if not username:
            self.stdout.write("No DJANGO_SUPERUSER_USERNAME: no admin to create.")
            return
        if get_user_model().objects.filter(username=username).exists():
            self.stdout.write(f"Admin {username!r} already exists.")
            return
        # Django's own command reads the three variables, validates the password, and
        # refuses to go on without one.
        call_command("createsuperuser", interactive=False, stdout=self.stdout)
