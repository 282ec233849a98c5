import secrets

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand

DEMO_USERS = [("admin", True), ("alice", False), ("bob", False)]


class Command(BaseCommand):
    help = "Create a demo admin and two demo users if missing, printing their passwords once."

    def handle(self, *args, **options):
        User = get_user_model()
        for username, is_admin in DEMO_USERS:
            if User.objects.filter(username=username).exists():
                continue
            password = secrets.token_urlsafe(12)
            User.objects.create_user(
                username=username,
                password=password,
                email=f"{username}@example.com",
                is_staff=is_admin,
                is_superuser=is_admin,
            )
            role = "admin" if is_admin else "user"
            self.stdout.write(
                self.style.SUCCESS(f"Created {role} {username!r} with password {password!r}")
            )
